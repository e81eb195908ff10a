//! Kafka sources against a real broker (tansu on loopback): formats, envelopes, metadata
//! columns, bad messages in `eddy_catalog.source_errors`, secrets kept secret, a broker
//! that is down at CREATE time, and one that dies and comes back mid-stream. Every view
//! is compared with an oracle computed here from the messages produced.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy_tests::kafka::{KafkaBroker, Record};
use eddy_tests::registry::{avro_messages, SchemaRegistryStub};
use eddy_tests::{eddy_binary, row, rows, wait_for, EddyProcess, Rows};
use tokio_postgres::Client;

async fn connect_source(client: &Client, broker: &KafkaBroker) -> anyhow::Result<()> {
    client.batch_execute(&format!("CREATE CONNECTION kafka_conn TO KAFKA (BROKER '{}')", broker.address())).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn json_source_with_metadata_feeds_a_view_and_keeps_bad_messages() -> anyhow::Result<()> {
    let broker = KafkaBroker::start()?;
    broker.create_topic("orders", 3)?;
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;

    // 300 good orders over 3 partitions, and 3 bad ones at known places.
    let mut oracle: BTreeMap<String, (i64, i64)> = BTreeMap::new(); // user -> (count, cents)
    let mut item_oracle: BTreeMap<String, i64> = BTreeMap::new(); // item -> orders holding it
    let mut values = Vec::new();
    for i in 0..300i64 {
        let user = format!("u{}", i % 7);
        let cents = i * 37 % 1000 + 1;
        let e = oracle.entry(user.clone()).or_default();
        e.0 += 1;
        e.1 += cents;
        let amount = format!("{}.{:02}", cents / 100, cents % 100);
        let items = [format!("sku{}", i % 5), format!("sku{}", (i + 1) % 5)];
        for item in &items {
            *item_oracle.entry(item.clone()).or_default() += 1;
        }
        values.push(format!(
            r#"{{"order_id": "o{i}", "user_id": "{user}", "amount": {amount}, "order_time": "2026-01-01T00:00:{:02}Z", "items": ["{}", "{}"]}}"#,
            i % 60,
            items[0],
            items[1]
        ));
    }
    let bad = [
        r#"{"order_id": "x", "#.to_string(),
        r#"{"order_id": "y", "user_id": "u1", "amount": "lots"}"#.to_string(),
        r#"{"user_id": "u1", "amount": 1}"#.to_string(),
    ];
    let mut records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record { key: Some(b"\"k\""), value: Some(v.as_bytes()), partition: Some((i % 3) as i32) })
        .collect();
    for b in &bad {
        records.push(Record { key: None, value: Some(b.as_bytes()), partition: Some(1) });
    }
    broker.produce("orders", &records)?;

    connect_source(&client, &broker).await?;
    client
        .batch_execute(
            "CREATE SOURCE orders (order_id text NOT NULL, user_id text, amount numeric, order_time timestamptz,
                                   items text[])
               FROM KAFKA CONNECTION kafka_conn (TOPIC 'orders', START OFFSET 'earliest')
               FORMAT JSON
               INCLUDE PARTITION, OFFSET, TIMESTAMP AS kafka_ts, KEY AS k;
             CREATE MATERIALIZED VIEW spend AS
               SELECT user_id, count(*) AS n, sum(amount) AS total FROM orders GROUP BY user_id;
             CREATE MATERIALIZED VIEW item_orders AS
               SELECT item, count(*) AS n FROM orders, unnest(items) AS item GROUP BY item;",
        )
        .await?;

    let expected: Rows = oracle
        .iter()
        .map(|(u, (n, cents))| row(&[u, &n.to_string(), &format!("{}.{:02}", cents / 100, cents % 100)]))
        .collect();
    let got = wait_for(&client, "SELECT user_id, n, total FROM spend ORDER BY user_id", &expected).await?;
    assert_eq!(got, expected, "the view equals the oracle");
    // JSON arrays fill a text[] column, which unnest reads.
    let expected: Rows = item_oracle.iter().map(|(item, n)| row(&[item, &n.to_string()])).collect();
    let got = wait_for(&client, "SELECT item, n FROM item_orders ORDER BY item", &expected).await?;
    assert_eq!(got, expected, "the array view equals the oracle");

    // Metadata columns: every partition read, offsets dense per partition, keys decoded.
    let parts = rows(
        &client,
        "SELECT partition, count(*), min(\"offset\"), max(\"offset\") FROM orders GROUP BY partition ORDER BY 1",
    )
    .await?;
    assert_eq!(
        parts,
        vec![row(&["0", "100", "0", "99"]), row(&["1", "100", "0", "99"]), row(&["2", "100", "0", "99"])]
    );
    let meta = rows(&client, "SELECT DISTINCT k::text, kafka_ts IS NOT NULL FROM orders").await?;
    assert_eq!(meta, vec![row(&["\"k\"", "t"])], "key is JSON (FORMAT JSON covers key and value)");

    // The bad messages: in source_errors with where and why, and counted.
    let errors = wait_for(
        &client,
        "SELECT source, topic, partition, \"offset\", reason FROM eddy_catalog.source_errors ORDER BY \"offset\"",
        &vec![],
    )
    .await?;
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0][..4], row(&["orders", "orders", "1", "100"])[..]);
    assert!(errors[0][4].as_deref().unwrap_or("").starts_with("invalid JSON"), "{errors:?}");
    assert_eq!(errors[1][4].as_deref(), Some("column \"amount\": invalid input syntax for type numeric: \"lots\""));
    assert_eq!(errors[2][4].as_deref(), Some("required column \"order_id\" is missing"));
    let raw = rows(&client, "SELECT raw FROM eddy_catalog.source_errors WHERE \"offset\" = 101").await?;
    let hex: String = bad[1].bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(raw, vec![vec![Some(format!("\\x{hex}"))]], "the raw message is kept");
    let create = rows(&client, "SHOW CREATE SOURCE orders").await?;
    assert!(
        create[0][1].as_deref().unwrap_or("").starts_with("CREATE SOURCE orders (order_id text NOT NULL"),
        "{create:?}"
    );
    let shown = rows(&client, "SHOW SOURCES").await?;
    assert_eq!(shown, vec![row(&["orders", "kafka", "running", "303", "3"])]);
    let lag_sql = "SELECT partitions, lag_messages, lag_ms FROM eddy_catalog.sources";
    let lag = wait_for(&client, lag_sql, &vec![row(&["3", "0", "0"])]).await?;
    assert_eq!(lag, vec![row(&["3", "0", "0"])], "caught up: no lag in messages or in time");
    let per_partition = "SELECT partition, lag_messages, lag_ms FROM eddy_catalog.source_partitions ORDER BY 1";
    let expected: Vec<_> = ["0", "1", "2"].iter().map(|p| row(&[p, "0", "0"])).collect();
    assert_eq!(rows(&client, per_partition).await?, expected);
    // Offsets are committed to the consumer group, so Kafka's own tools see the position.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut committed = broker.committed_offsets("eddy-orders", "orders", 3)?;
    while committed != [100, 103, 100] && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        committed = broker.committed_offsets("eddy-orders", "orders", 3)?;
    }
    assert_eq!(committed, [100, 103, 100]);

    // More messages flow through; DROP SOURCE needs CASCADE for the view.
    let more = r#"{"order_id": "late", "user_id": "u0", "amount": 0.01}"#;
    broker.produce("orders", &[Record { key: None, value: Some(more.as_bytes()), partition: Some(2) }])?;
    let (n, cents) = oracle["u0"];
    let expected_u0 = vec![row(&[&(n + 1).to_string(), &format!("{}.{:02}", (cents + 1) / 100, (cents + 1) % 100)])];
    assert_eq!(wait_for(&client, "SELECT n, total FROM spend WHERE user_id = 'u0'", &expected_u0).await?, expected_u0);
    let err = client.batch_execute("DROP SOURCE orders").await.expect_err("view depends on it");
    assert_eq!(err.code().map(|c| c.code()), Some("2BP01"));
    client.batch_execute("DROP SOURCE orders CASCADE").await?;
    assert!(rows(&client, "SHOW SOURCES").await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_envelope_keeps_the_latest_value_per_key() -> anyhow::Result<()> {
    let broker = KafkaBroker::start()?;
    broker.create_topic("users", 2)?;
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    connect_source(&client, &broker).await?;
    client
        .batch_execute(
            "CREATE SOURCE users FROM KAFKA CONNECTION kafka_conn (TOPIC 'users')
               KEY FORMAT TEXT VALUE FORMAT JSON ENVELOPE UPSERT;
             CREATE SOURCE typed_users (name text, score int) FROM KAFKA CONNECTION kafka_conn (TOPIC 'users')
               KEY FORMAT TEXT VALUE FORMAT JSON INCLUDE KEY AS id ENVELOPE UPSERT;
             CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(score) AS s FROM typed_users;",
        )
        .await?;
    // Keys k0..k19, each updated several times, some deleted by tombstones.
    let mut oracle: BTreeMap<String, Option<i64>> = BTreeMap::new();
    let mut batch: Vec<(String, Option<String>)> = Vec::new();
    for round in 0..5i64 {
        for k in 0..20i64 {
            let key = format!("k{k:02}");
            let value = if (k + round) % 7 == 0 {
                None
            } else {
                Some(format!(r#"{{"name": "n{k}", "score": {}}}"#, k * 10 + round))
            };
            oracle.insert(key.clone(), value.as_ref().map(|_| k * 10 + round));
            batch.push((key, value));
        }
    }
    let records: Vec<Record> = batch
        .iter()
        .map(|(k, v)| Record { key: Some(k.as_bytes()), value: v.as_ref().map(|v| v.as_bytes()), partition: None })
        .collect();
    broker.produce("users", &records)?;

    let live: Vec<(&String, i64)> = oracle.iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect();
    let expected: Rows = live.iter().map(|(k, v)| row(&[k, &v.to_string()])).collect();
    let got = wait_for(&client, "SELECT id, score FROM typed_users ORDER BY id", &expected).await?;
    assert_eq!(got, expected);
    let got = wait_for(&client, "SELECT key, (data->>'score')::int FROM users ORDER BY key", &expected).await?;
    assert_eq!(got, expected, "untyped: key text, data jsonb");
    let sum: i64 = live.iter().map(|(_, v)| v).sum();
    assert_eq!(rows(&client, "SELECT n, s FROM total").await?, vec![row(&[&live.len().to_string(), &sum.to_string()])]);

    // A message without a key cannot be upserted: recorded, not applied.
    broker.produce("users", &[Record { key: None, value: Some(b"{}"), partition: Some(0) }])?;
    let reasons = wait_for(
        &client,
        "SELECT DISTINCT reason FROM eddy_catalog.source_errors",
        &vec![row(&["ENVELOPE UPSERT needs a message key; this one has none"])],
    )
    .await?;
    assert_eq!(reasons, vec![row(&["ENVELOPE UPSERT needs a message key; this one has none"])]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn debezium_csv_text_and_bytes() -> anyhow::Result<()> {
    let broker = KafkaBroker::start()?;
    for t in ["items", "csv", "lines"] {
        broker.create_topic(t, 1)?;
    }
    let server = EddyProcess::start(1)?;
    let client = server.connect().await?;
    connect_source(&client, &broker).await?;
    let events = [
        r#"{"payload": {"op": "r", "before": null, "after": {"id": 1, "name": "apple", "price": 1.50}}}"#,
        r#"{"op": "c", "before": null, "after": {"id": 2, "name": "pear", "price": 2.25}}"#,
        r#"{"op": "u", "before": {"id": 1, "name": "apple", "price": 1.50}, "after": {"id": 1, "name": "apple", "price": 1.75}}"#,
        r#"{"op": "d", "before": {"id": 2, "name": "pear", "price": 2.25}, "after": null}"#,
        r#"{"op": "c", "after": {"id": 3, "name": "fig", "price": 9}}"#,
        r#"{"op": "z", "after": {"id": 4}}"#,
    ];
    let records: Vec<Record> =
        events.iter().map(|e| Record { key: None, value: Some(e.as_bytes()), partition: None }).collect();
    broker.produce("items", &records)?;
    broker.produce(
        "csv",
        &[
            Record { key: None, value: Some(b"1,\"a, b\",2.5"), partition: None },
            Record { key: None, value: Some(b"2,,3"), partition: None },
            Record { key: None, value: Some(b"3,x"), partition: None },
        ],
    )?;
    broker.produce(
        "lines",
        &[
            Record { key: None, value: Some(b"hello"), partition: None },
            Record { key: None, value: Some(&[0xff, 0x00]), partition: None },
        ],
    )?;
    client
        .batch_execute(
            "CREATE SOURCE items (id int, name text, price numeric(6,2)) FROM KAFKA CONNECTION kafka_conn (TOPIC 'items')
               FORMAT JSON ENVELOPE DEBEZIUM;
             CREATE SOURCE csv_rows (a int, b text, c float8) FROM KAFKA CONNECTION kafka_conn (TOPIC 'csv') FORMAT CSV;
             CREATE SOURCE text_lines FROM KAFKA CONNECTION kafka_conn (TOPIC 'lines') FORMAT TEXT;
             CREATE SOURCE byte_lines FROM KAFKA CONNECTION kafka_conn (TOPIC 'lines') FORMAT BYTES;",
        )
        .await?;
    let expected = vec![row(&["1", "apple", "1.75"]), row(&["3", "fig", "9.00"])];
    assert_eq!(wait_for(&client, "SELECT * FROM items ORDER BY id", &expected).await?, expected);
    let expected = vec![row(&["1", "a, b", "2.5"]), row(&["2", "NULL", "3"])];
    assert_eq!(wait_for(&client, "SELECT * FROM csv_rows ORDER BY a", &expected).await?, expected);
    let expected = vec![row(&["hello"])];
    assert_eq!(wait_for(&client, "SELECT text FROM text_lines", &expected).await?, expected);
    let expected = vec![row(&["\\x68656c6c6f"]), row(&["\\xff00"])];
    assert_eq!(wait_for(&client, "SELECT data FROM byte_lines ORDER BY data", &expected).await?, expected);
    let expected = vec![
        row(&["csv_rows", "expected 3 CSV fields, got 2"]),
        row(&["items", "unknown Debezium op \"z\" (expected c, r, u or d)"]),
        row(&["text_lines", "invalid UTF-8 at byte 0"]),
    ];
    let got =
        wait_for(&client, "SELECT source, reason FROM eddy_catalog.source_errors ORDER BY source", &expected).await?;
    assert_eq!(got, expected);

    // Statements that cannot work say why.
    for (sql, code, message) in [
        (
            "CREATE SOURCE s FROM KAFKA CONNECTION nope (TOPIC 'items') FORMAT JSON",
            "42704",
            "connection \"nope\" does not exist",
        ),
        (
            "CREATE SOURCE s FROM KAFKA CONNECTION kafka_conn (TOPIC 'absent') FORMAT JSON",
            "42704",
            "topic \"absent\": does not exist",
        ),
        (
            "CREATE SOURCE s FROM KAFKA CONNECTION kafka_conn (TOPIC 'items')",
            "22023",
            "a Kafka source needs FORMAT (JSON, AVRO, CSV, TEXT or BYTES)",
        ),
        (
            "CREATE SOURCE s FROM KAFKA CONNECTION kafka_conn (TOPIC 'items') VALUE FORMAT JSON ENVELOPE UPSERT",
            "22023",
            "ENVELOPE UPSERT and INCLUDE KEY need the key's format: KEY FORMAT f VALUE FORMAT f, or FORMAT f",
        ),
        (
            "INSERT INTO items VALUES (5, 'x', 1)",
            "42809",
            "cannot change source \"items\": it is a source, not a table",
        ),
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        let db = err.as_db_error().expect("a server error");
        assert_eq!((db.code().code(), db.message()), (code, message), "{sql}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_stay_secret_and_a_dead_broker_is_a_clear_error() -> anyhow::Result<()> {
    let server =
        EddyProcess::start_custom(&eddy_binary(), 1, &[("EDDY_TEST_KAFKA_PASSWORD", "hunter2-very-secret")], &[])?;
    let client = server.connect().await?;
    let dead = eddy_tests::free_port()?;
    client
        .batch_execute(&format!(
            "CREATE SECRET kafka_pw AS 'env:EDDY_TEST_KAFKA_PASSWORD';
             CREATE CONNECTION sasl_conn TO KAFKA (BROKER '127.0.0.1:{dead}', SECURITY PROTOCOL 'SASL_PLAINTEXT',
               SASL MECHANISMS 'PLAIN', SASL USERNAME 'app', SASL PASSWORD SECRET kafka_pw);"
        ))
        .await?;
    let err = client
        .batch_execute("CREATE SOURCE s FROM KAFKA CONNECTION sasl_conn (TOPIC 't') FORMAT JSON")
        .await
        .expect_err("no broker");
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "08001");
    assert!(db.message().starts_with(&format!("cannot reach Kafka broker 127.0.0.1:{dead}")), "{}", db.message());
    assert!(rows(&client, "SHOW SOURCES").await?.is_empty(), "nothing half-created");

    let err = client.batch_execute("CREATE SECRET s2 AS 'env:EDDY_NO_SUCH_VARIABLE'").await.expect_err("unset");
    assert!(err.as_db_error().expect("server error").message().contains("EDDY_NO_SUCH_VARIABLE is not set"));
    let err = client
        .batch_execute("CREATE CONNECTION c2 TO KAFKA (BROKER 'x:1', SASL PASSWORD 'plain-text')")
        .await
        .expect_err("passwords must be secrets");
    assert!(err.as_db_error().expect("server error").message().starts_with("SASL PASSWORD must name a secret"));

    let mut everything = String::new();
    for sql in
        ["SHOW CONNECTIONS", "SHOW CREATE CONNECTION sasl_conn", "SHOW SECRETS", "SELECT * FROM eddy_catalog.sources"]
    {
        everything.push_str(&format!("{:?}", rows(&client, sql).await?));
    }
    assert!(everything.contains("SASL PASSWORD SECRET kafka_pw"), "{everything}");
    assert!(!everything.contains("hunter2"), "a secret leaked: {everything}");
    assert!(!server.log_tail().contains("hunter2"), "a secret reached the log");
    let err = client.batch_execute("DROP SECRET kafka_pw").await.expect_err("in use");
    assert_eq!(err.code().map(|c| c.code()), Some("2BP01"));
    client.batch_execute("DROP SECRET kafka_pw CASCADE").await?;
    assert!(rows(&client, "SHOW CONNECTIONS").await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_restart_mid_stream_loses_and_repeats_nothing() -> anyhow::Result<()> {
    let mut broker = KafkaBroker::start()?;
    broker.create_topic("events", 2)?;
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    connect_source(&client, &broker).await?;
    client
        .batch_execute(
            "CREATE SOURCE events (n bigint) FROM KAFKA CONNECTION kafka_conn (TOPIC 'events') FORMAT JSON;
             CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS c, sum(n) AS s, count(DISTINCT n) AS d FROM events;",
        )
        .await?;
    let totals = |to: i64| vec![row(&[&to.to_string(), &(to * (to - 1) / 2).to_string(), &to.to_string()])];
    produce_numbers(&broker, 0, 500)?;
    assert_eq!(wait_for(&client, "SELECT * FROM totals", &totals(500)).await?, totals(500));

    broker.kill();
    let stalled = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = rows(&client, "SELECT status FROM eddy_catalog.sources").await?;
            let s = status.first().and_then(|r| r[0].clone()).unwrap_or_default();
            if s.starts_with("stalled") || Instant::now() > deadline {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    assert!(stalled.starts_with("stalled"), "the source reports the broker's absence: {stalled}");
    assert_eq!(rows(&client, "SELECT * FROM totals").await?, totals(500), "reads still served");

    broker.restart()?;
    let mut produced = Err(anyhow::anyhow!("not tried"));
    for _ in 0..20 {
        produced = produce_numbers(&broker, 500, 1000);
        if produced.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    produced?;
    assert_eq!(wait_for(&client, "SELECT * FROM totals", &totals(1000)).await?, totals(1000));
    let status = wait_for(&client, "SELECT status FROM eddy_catalog.sources", &vec![row(&["running"])]).await?;
    assert_eq!(status, vec![row(&["running"])]);
    Ok(())
}

/// Produces `{"n": from}` .. `{"n": to - 1}` to topic `events`, alternating partitions.
fn produce_numbers(broker: &KafkaBroker, from: i64, to: i64) -> anyhow::Result<()> {
    produce_numbers_to(broker, "events", from, to)
}

fn produce_numbers_to(broker: &KafkaBroker, topic: &str, from: i64, to: i64) -> anyhow::Result<()> {
    let partitions = if topic == "events" { 2 } else { 1 };
    let values: Vec<String> = (from..to).map(|n| format!(r#"{{"n": {n}}}"#)).collect();
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record { key: None, value: Some(v.as_bytes()), partition: Some((i % partitions) as i32) })
        .collect();
    broker.produce(topic, &records)
}

#[tokio::test(flavor = "multi_thread")]
async fn sasl_scram_authentication_against_a_broker_that_requires_it() -> anyhow::Result<()> {
    let mut broker = KafkaBroker::start()?;
    broker.create_topic("secure", 1)?;
    broker.create_user("app", "s3cret-pw")?;
    produce_numbers_to(&broker, "secure", 0, 10)?;
    broker.authentication = true;
    broker.restart()?;

    let server = EddyProcess::start_custom(&eddy_binary(), 1, &[("EDDY_TEST_SCRAM_PW", "s3cret-pw")], &[])?;
    let client = server.connect().await?;
    let address = broker.address();
    client
        .batch_execute(&format!(
            "CREATE SECRET pw AS 'env:EDDY_TEST_SCRAM_PW';
             CREATE SECRET wrong_pw AS 'not-it';
             CREATE CONNECTION good TO KAFKA (BROKER '{address}', SECURITY PROTOCOL 'SASL_PLAINTEXT',
               SASL MECHANISMS 'SCRAM-SHA-512', SASL USERNAME 'app', SASL PASSWORD SECRET pw);
             CREATE CONNECTION bad TO KAFKA (BROKER '{address}', SECURITY PROTOCOL 'SASL_PLAINTEXT',
               SASL MECHANISMS 'SCRAM-SHA-512', SASL USERNAME 'app', SASL PASSWORD SECRET wrong_pw);
             CREATE CONNECTION anonymous TO KAFKA (BROKER '{address}');"
        ))
        .await?;
    client
        .batch_execute(
            "CREATE SOURCE secure (n bigint) FROM KAFKA CONNECTION good (TOPIC 'secure') FORMAT JSON;
             CREATE MATERIALIZED VIEW secure_sum AS SELECT count(*) AS c, sum(n) AS s FROM secure;",
        )
        .await?;
    let expected = vec![row(&["10", "45"])];
    assert_eq!(wait_for(&client, "SELECT * FROM secure_sum", &expected).await?, expected);
    for conn in ["bad", "anonymous"] {
        let err = client
            .batch_execute(&format!("CREATE SOURCE s_{conn} FROM KAFKA CONNECTION {conn} (TOPIC 'secure') FORMAT JSON"))
            .await
            .expect_err("authentication fails");
        let message = err.as_db_error().expect("a server error").message().to_string();
        assert!(message.starts_with(&format!("cannot reach Kafka broker {address}")), "{message}");
        if conn == "bad" {
            assert!(message.contains("SASL authentication error"), "says why: {message}");
        }
        assert!(!message.contains("not-it"), "{message}");
    }
    assert!(!server.log_tail().contains("s3cret-pw") && !server.log_tail().contains("not-it"));
    Ok(())
}

/// librdkafka 2.12.1 took the leader-change data in tansu's Fetch answer for a deleted topic
/// (no topic id, no name) and dereferenced the missing name, killing the process; the
/// vendored rdkafka-sys carries the fix (vendor/rdkafka-sys/EDDY-PATCH.md).
#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_topic_is_a_status_not_a_crash() -> anyhow::Result<()> {
    let broker = KafkaBroker::start()?;
    broker.create_topic("doomed", 2)?;
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    connect_source(&client, &broker).await?;
    client
        .batch_execute(
            "CREATE SOURCE doomed FROM KAFKA CONNECTION kafka_conn (TOPIC 'doomed') FORMAT TEXT;
             CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM doomed;",
        )
        .await?;
    let records: Vec<Record> =
        (0..10).map(|i| Record { key: None, value: Some(b"x"), partition: Some(i % 2) }).collect();
    broker.produce("doomed", &records)?;
    wait_for(&client, "SELECT n FROM n", &vec![row(&["10"])]).await?;
    broker.delete_topic("doomed")?;
    let status = "SELECT status LIKE 'stalled%' FROM eddy_catalog.sources WHERE name = 'doomed'";
    let got = wait_for(&client, status, &vec![row(&["t"])]).await?;
    assert_eq!(got, vec![row(&["t"])], "the source says it is stalled\n{}", server.log_tail());
    // The server stays up and keeps what it read.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(rows(&client, "SELECT n FROM n").await?, vec![row(&["10"])], "{}", server.log_tail());
    client.batch_execute("DROP SOURCE doomed CASCADE").await?;
    Ok(())
}

/// Partitions added to a topic while a source reads it are read too, from their start.
#[tokio::test(flavor = "multi_thread")]
async fn partitions_added_later_are_read() -> anyhow::Result<()> {
    let mut broker = KafkaBroker::start()?;
    broker.create_topic("growing", 2)?;
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    connect_source(&client, &broker).await?;
    client
        .batch_execute(
            "CREATE SOURCE growing FROM KAFKA CONNECTION kafka_conn (TOPIC 'growing') FORMAT TEXT INCLUDE PARTITION;
             CREATE MATERIALIZED VIEW per_partition AS SELECT partition, count(*) AS n FROM growing GROUP BY partition;",
        )
        .await?;
    let to = |partition: i32, n: usize| -> Vec<Record<'static>> {
        (0..n).map(|_| Record { key: None, value: Some(b"x"), partition: Some(partition) }).collect()
    };
    broker.produce("growing", &[to(0, 3), to(1, 4)].concat())?;
    let read = "SELECT partition, n FROM per_partition ORDER BY partition";
    let expected = vec![row(&["0", "3"]), row(&["1", "4"])];
    assert_eq!(wait_for(&client, read, &expected).await?, expected);

    broker.add_partitions("growing", 4)?;
    broker.produce("growing", &[to(0, 1), to(2, 5), to(3, 6)].concat())?;
    let expected = vec![row(&["0", "4"]), row(&["1", "4"]), row(&["2", "5"]), row(&["3", "6"])];
    let got = wait_for(&client, read, &expected).await?;
    assert_eq!(got, expected, "new partitions are read\n{}", server.log_tail());
    let status = rows(&client, "SELECT status FROM eddy_catalog.sources WHERE name = 'growing'").await?;
    assert_eq!(status, vec![row(&["running"])]);
    Ok(())
}

/// tansu has no authorization, so librdkafka's mock cluster, run in this test process on
/// loopback, plays a broker that refuses a topic: at CREATE SOURCE, and later under a
/// running source.
#[tokio::test(flavor = "multi_thread")]
async fn an_unauthorized_topic_is_a_clear_error_and_status() -> anyhow::Result<()> {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED as DENIED;
    let mock = MockCluster::new(1)?;
    mock.create_topic("locked", 1, 1)?;
    mock.create_topic("open", 1, 1)?;
    mock.topic_error("locked", DENIED)?;
    let server = EddyProcess::start(1)?;
    let client = server.connect().await?;
    client.batch_execute(&format!("CREATE CONNECTION mock TO KAFKA (BROKER '{}')", mock.bootstrap_servers())).await?;

    let err = client
        .batch_execute("CREATE SOURCE locked FROM KAFKA CONNECTION mock (TOPIC 'locked') FORMAT TEXT")
        .await
        .expect_err("the topic is not readable");
    let message = err.as_db_error().expect("a server error").message().to_string();
    assert!(message.contains("locked") && message.contains("not authorized"), "{message}");
    assert!(rows(&client, "SHOW SOURCES").await?.is_empty(), "nothing half-created");

    client
        .batch_execute(
            "CREATE SOURCE open FROM KAFKA CONNECTION mock (TOPIC 'open') FORMAT TEXT;
             CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM open;",
        )
        .await?;
    eddy_tests::kafka::produce(
        &mock.bootstrap_servers(),
        "open",
        &[Record { key: None, value: Some(b"x"), partition: Some(0) }],
    )?;
    wait_for(&client, "SELECT n FROM n", &vec![row(&["1"])]).await?;
    mock.topic_error("open", DENIED)?;
    let status = "SELECT status LIKE 'stalled%not authorized%' FROM eddy_catalog.sources WHERE name = 'open'";
    let got = wait_for(&client, status, &vec![row(&["t"])]).await?;
    let shown = rows(&client, "SELECT status FROM eddy_catalog.sources").await?;
    assert_eq!(got, vec![row(&["t"])], "the source says why it stalled: {shown:?}\n{}", server.log_tail());
    assert_eq!(rows(&client, "SELECT n FROM n").await?, vec![row(&["1"])], "and keeps what it read");
    Ok(())
}

const PAYMENT_V1: &str = r#"{"type": "record", "name": "Payment", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"},
    {"name": "user_id", "type": "string"},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "paid_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "note", "type": ["null", "string"], "default": null}]}"#;

/// A later version of the schema, with one more field: messages written with it still
/// fill the source's columns (fields are matched by name).
const PAYMENT_V2: &str = r#"{"type": "record", "name": "Payment", "namespace": "shop", "fields": [
    {"name": "id", "type": "long"},
    {"name": "channel", "type": "string", "default": "web"},
    {"name": "user_id", "type": "string"},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "paid_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "note", "type": ["null", "string"], "default": null}]}"#;

/// Payments `from..to`, as Avro records (v2 ones with a channel), and the oracle's
/// per-user (count, cents) updated with them.
fn payments(from: i64, to: i64, v2: bool, oracle: &mut BTreeMap<String, (i64, i64)>) -> Vec<serde_json::Value> {
    (from..to)
        .map(|i| {
            let user = format!("u{}", i % 4);
            let cents = i * 13 % 500 - 100;
            let e = oracle.entry(user.clone()).or_default();
            e.0 += 1;
            e.1 += cents;
            let sign = if cents < 0 { "-" } else { "" };
            let mut record = serde_json::json!({
                "id": i,
                "user_id": user,
                "amount": format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100),
                "paid_at": format!("2026-01-01T00:00:{:02}.{:06}Z", i % 60, i * 7),
                "note": if i % 3 == 0 { serde_json::Value::Null } else { format!("n{i}").into() },
            });
            if v2 {
                record["channel"] = "app".into();
            }
            record
        })
        .collect()
}

fn spend_rows(oracle: &BTreeMap<String, (i64, i64)>) -> Rows {
    oracle
        .iter()
        .map(|(user, (n, cents))| {
            let sign = if *cents < 0 { "-" } else { "" };
            row(&[user, &n.to_string(), &format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)])
        })
        .collect()
}

fn produce_avro(broker: &KafkaBroker, topic: &str, messages: &[Vec<u8>]) -> anyhow::Result<()> {
    let records: Vec<Record> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| Record { key: None, value: Some(m), partition: Some((i % 2) as i32) })
        .collect();
    broker.produce(topic, &records)
}

#[tokio::test(flavor = "multi_thread")]
async fn avro_with_a_schema_registry() -> anyhow::Result<()> {
    let broker = KafkaBroker::start()?;
    broker.create_topic("payments", 2)?;
    let registry = SchemaRegistryStub::start()?;
    registry.register("payments-value", 1, PAYMENT_V1);
    let mut server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    connect_source(&client, &broker).await?;
    client
        .batch_execute(&format!(
            "CREATE CONNECTION csr TO CONFLUENT SCHEMA REGISTRY (URL '{}');
             CREATE SOURCE payments FROM KAFKA CONNECTION kafka_conn (TOPIC 'payments')
               FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY CONNECTION csr;
             CREATE MATERIALIZED VIEW spend AS
               SELECT user_id, count(*) AS n, sum(amount) AS total FROM payments GROUP BY user_id;",
            registry.url()
        ))
        .await?;
    // The columns come from the registry's latest schema and are stored as declared.
    let create = rows(&client, "SHOW CREATE SOURCE payments").await?;
    let create = create[0][1].clone().unwrap_or_default();
    assert!(
        create.contains(
            "payments (id bigint NOT NULL, user_id text NOT NULL, amount numeric(10,2) NOT NULL, \
             paid_at timestamp with time zone NOT NULL, note text) FROM KAFKA"
        ),
        "{create}"
    );

    let mut oracle = BTreeMap::new();
    produce_avro(&broker, "payments", &avro_messages(PAYMENT_V1, 1, &payments(0, 60, false, &mut oracle))?)?;
    let got = wait_for(&client, "SELECT * FROM spend ORDER BY user_id", &spend_rows(&oracle)).await?;
    assert_eq!(got, spend_rows(&oracle));
    let first = rows(&client, "SELECT id, amount, paid_at, note FROM payments WHERE id IN (1, 3) ORDER BY id").await?;
    assert_eq!(
        first,
        vec![
            row(&["1", "-0.87", "2026-01-01 00:00:01.000007+00", "n1"]),
            vec![Some("3".into()), Some("-0.61".into()), Some("2026-01-01 00:00:03.000021+00".into()), None]
        ]
    );

    // Bad messages are kept, with why: not Confluent-framed, and an unknown schema id.
    let mut unknown = vec![0u8, 0, 0, 0, 99];
    unknown.extend([2, 4]);
    produce_avro(&broker, "payments", &[br#"{"id": 1}"#.to_vec(), unknown])?;
    let expected = vec![
        row(&["not in the Confluent wire format: magic byte 123, expected 0 (was it produced with a schema \
               registry serializer?)"]),
        row(&[&format!(
            "writer schema 99: schema registry {}: HTTP 404 for /schemas/ids/99: Schema not found",
            registry.url()
        )]),
    ];
    let sql = "SELECT reason FROM eddy_catalog.source_errors WHERE source = 'payments' ORDER BY reason";
    assert_eq!(wait_for(&client, sql, &expected).await?, expected);

    // The registry goes away before a message names a schema Eddy has not seen: the
    // source stalls on it instead of recording good messages as bad, and goes on once
    // the registry is back.
    registry.set_up(false);
    registry.register("payments-value", 2, PAYMENT_V2);
    produce_avro(&broker, "payments", &avro_messages(PAYMENT_V2, 2, &payments(60, 80, true, &mut oracle))?)?;
    let stalled = "SELECT status LIKE 'stalled: schema registry%unavailable%' FROM eddy_catalog.sources \
                   WHERE name = 'payments'";
    assert_eq!(wait_for(&client, stalled, &vec![row(&["t"])]).await?, vec![row(&["t"])]);
    registry.set_up(true);
    let got = wait_for(&client, "SELECT * FROM spend ORDER BY user_id", &spend_rows(&oracle)).await?;
    assert_eq!(got, spend_rows(&oracle));
    assert_eq!(rows(&client, "SELECT count(*) FROM eddy_catalog.source_errors").await?, vec![row(&["2"])]);

    // Debezium change events in Avro: the columns are those of the `after` record.
    broker.create_topic("items_cdc", 1)?;
    let item = r#"{"type": "record", "name": "Item", "fields": [
        {"name": "id", "type": "long"}, {"name": "name", "type": "string"}]}"#;
    let envelope = format!(
        r#"{{"type": "record", "name": "Envelope", "namespace": "cdc", "fields": [
            {{"name": "before", "type": ["null", {item}]}},
            {{"name": "after", "type": ["null", "Item"]}},
            {{"name": "op", "type": "string"}}]}}"#
    );
    registry.register("items_cdc-value", 3, &envelope);
    let change = |before: Option<(i64, &str)>, after: Option<(i64, &str)>, op: &str| {
        let image = |i: Option<(i64, &str)>| {
            i.map_or(serde_json::Value::Null, |(id, n)| serde_json::json!({"id": id, "name": n}))
        };
        serde_json::json!({"before": image(before), "after": image(after), "op": op})
    };
    let events = [
        change(None, Some((1, "a")), "c"),
        change(None, Some((2, "b")), "r"),
        change(Some((1, "a")), Some((1, "a2")), "u"),
        change(Some((2, "b")), None, "d"),
    ];
    let messages = avro_messages(&envelope, 3, &events)?;
    let records: Vec<Record> =
        messages.iter().map(|m| Record { key: None, value: Some(m), partition: Some(0) }).collect();
    broker.produce("items_cdc", &records)?;
    client
        .batch_execute(
            "CREATE SOURCE items FROM KAFKA CONNECTION kafka_conn (TOPIC 'items_cdc')
               FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY CONNECTION csr ENVELOPE DEBEZIUM",
        )
        .await?;
    let expected = vec![row(&["1", "a2"])];
    assert_eq!(wait_for(&client, "SELECT id, name FROM items", &expected).await?, expected);

    // Avro keys too (one jsonb column), with UPSERT: the last value per key, tombstones delete.
    broker.create_topic("accounts", 1)?;
    registry.register("accounts-value", 1, PAYMENT_V1);
    let keys = avro_messages(r#""string""#, 4, &["a".into(), "b".into(), "a".into(), "b".into()])?;
    registry.register("accounts-key", 4, r#""string""#);
    let mut ignored = BTreeMap::new();
    let values = avro_messages(PAYMENT_V1, 1, &payments(100, 103, false, &mut ignored))?;
    let records = vec![
        Record { key: Some(&keys[0]), value: Some(&values[0]), partition: Some(0) },
        Record { key: Some(&keys[1]), value: Some(&values[1]), partition: Some(0) },
        Record { key: Some(&keys[2]), value: Some(&values[2]), partition: Some(0) },
        Record { key: Some(&keys[3]), value: None, partition: Some(0) },
    ];
    broker.produce("accounts", &records)?;
    client
        .batch_execute(
            "CREATE SOURCE accounts FROM KAFKA CONNECTION kafka_conn (TOPIC 'accounts')
               FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY CONNECTION csr ENVELOPE UPSERT",
        )
        .await?;
    let expected = vec![row(&["\"a\"", "102"])];
    assert_eq!(wait_for(&client, "SELECT key, id FROM accounts", &expected).await?, expected);

    // A restart keeps the columns chosen at CREATE and resumes where it stopped.
    server.restart()?;
    let client = server.connect().await?;
    let got = wait_for(&client, "SELECT * FROM spend ORDER BY user_id", &spend_rows(&oracle)).await?;
    assert_eq!(got, spend_rows(&oracle));
    assert_eq!(rows(&client, "SELECT count(*) FROM payments").await?, vec![row(&["80"])]);

    // Wrong kinds of connection and a subject the registry does not have are clear errors.
    let err = |e: tokio_postgres::Error| e.as_db_error().map(|d| d.message().to_string()).unwrap_or_default();
    let wrong = client
        .batch_execute("CREATE SOURCE w FROM KAFKA CONNECTION csr (TOPIC 'payments') FORMAT TEXT")
        .await
        .map_err(err)
        .unwrap_err();
    assert_eq!(wrong, "connection csr is a schema registry connection, not a kafka connection");
    broker.create_topic("unregistered", 1)?;
    let missing = client
        .batch_execute(
            "CREATE SOURCE m FROM KAFKA CONNECTION kafka_conn (TOPIC 'unregistered')
               FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY CONNECTION csr",
        )
        .await
        .map_err(err)
        .unwrap_err();
    assert!(missing.contains("HTTP 404 for /subjects/unregistered-value/versions/latest"), "{missing}");
    Ok(())
}
