"""Encodes records in Avro's binary encoding with Apache Avro's own Python library, an
encoder independent of Eddy's decoder, for the Kafka tests.

stdin: {"schema": <schema JSON>, "records": [<record>, ...]}. Values of decimal fields
are given as strings, of timestamp-micros fields as ISO 8601 strings, of date fields as
YYYY-MM-DD. stdout: one line of hex per record (the Avro datum, without framing).
"""
import datetime
import decimal
import io
import json
import sys

import avro.io
import avro.schema


def convert(schema, value):
    """The test's JSON value as the Python value avro writes for `schema`."""
    if value is None:
        return None
    if isinstance(schema, avro.schema.UnionSchema):
        branches = [s for s in schema.schemas if s.type != "null"]
        return convert(branches[0], value) if len(branches) == 1 else value
    if isinstance(schema, avro.schema.RecordSchema):
        return {f.name: convert(f.type, value.get(f.name)) for f in schema.fields}
    if isinstance(schema, avro.schema.ArraySchema):
        return [convert(schema.items, v) for v in value]
    logical = schema.props.get("logicalType") if hasattr(schema, "props") else None
    if logical == "decimal":
        return decimal.Decimal(value)
    if logical == "timestamp-micros":
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if logical == "date":
        return datetime.date.fromisoformat(value)
    return value


def main():
    request = json.load(sys.stdin)
    schema = avro.schema.parse(json.dumps(request["schema"]))
    writer = avro.io.DatumWriter(schema)
    for record in request["records"]:
        out = io.BytesIO()
        writer.write(convert(schema, record), avro.io.BinaryEncoder(out))
        print(out.getvalue().hex())


if __name__ == "__main__":
    main()
