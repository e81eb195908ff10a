//! Real clients against a real `eddy`: tokio-postgres's extended protocol (typed
//! parameters, binary results), COPY FROM STDIN, transactions, SQLSTATEs, and a client
//! that disconnects without saying goodbye; and Python's psycopg and psycopg2.

use std::sync::Arc;

use eddy_tests::EddyProcess;
use futures::SinkExt;
use tokio_postgres::types::Type;

#[tokio::test(flavor = "multi_thread")]
async fn extended_protocol_with_typed_parameters_and_binary_results() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE t (i int, b bigint, n numeric(10,2), s text, f float8, ok boolean, d date, ts timestamp, tz timestamptz, iv interval, j jsonb, u uuid);
             CREATE MATERIALIZED VIEW by_s AS SELECT s, count(*) AS c, sum(n) AS total FROM t GROUP BY s;",
        )
        .await?;
    let insert = client
        .prepare_typed(
            "INSERT INTO t (i, b, s, f, ok) VALUES ($1, $2, $3, $4, $5)",
            &[Type::INT4, Type::INT8, Type::TEXT, Type::FLOAT8, Type::BOOL],
        )
        .await?;
    client.execute(&insert, &[&1i32, &10i64, &"x", &1.5f64, &true]).await?;
    client.execute(&insert, &[&2i32, &20i64, &"x", &-0.25f64, &false]).await?;
    // Untyped parameters get their types from where they are used.
    client.execute("UPDATE t SET n = $1::numeric WHERE i = $2", &[&"3.50", &1i32]).await.ok();
    client.execute("UPDATE t SET s = $1 WHERE i = $2", &[&"y", &2i32]).await?;

    let rows = client.query("SELECT i, b, s, f, ok FROM t WHERE b > $1 ORDER BY i", &[&5i64]).await?;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    assert_eq!(rows[0].get::<_, i64>(1), 10);
    assert_eq!(rows[1].get::<_, String>(2), "y");
    assert_eq!(rows[1].get::<_, f64>(3), -0.25);
    assert!(!rows[1].get::<_, bool>(4));

    let counts = client.query("SELECT s, c FROM by_s ORDER BY s", &[]).await?;
    let counts: Vec<(String, i64)> = counts.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(counts, vec![("x".to_string(), 1), ("y".to_string(), 1)]);

    // Text results of the same row, as psql would show them.
    let text = client.simple_query("SELECT f, ok FROM t WHERE i = 1").await?;
    let row = text.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => {
            Some((r.get(0).map(str::to_string), r.get(1).map(str::to_string)))
        }
        _ => None,
    });
    assert_eq!(row, Some((Some("1.5".into()), Some("t".into()))));

    // Arrays, both ways in binary: a typed array parameter, an array result with a NULL.
    client.batch_execute("CREATE TABLE tagged (id int, tags text[])").await?;
    let tags = vec![Some("a b".to_string()), None, Some("c".to_string())];
    client.execute("INSERT INTO tagged VALUES ($1, $2)", &[&1i32, &tags]).await?;
    let row = client.query_one("SELECT tags, ARRAY[id, 2] FROM tagged WHERE 'c' = ANY(tags)", &[]).await?;
    assert_eq!(row.get::<_, Vec<Option<String>>>(0), tags);
    assert_eq!(row.get::<_, Vec<i32>>(1), vec![1, 2]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_from_stdin_feeds_a_view() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE m (k int, v numeric); CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS v FROM m GROUP BY k",
        )
        .await?;
    let sink = client.copy_in("COPY m FROM STDIN WITH (FORMAT csv)").await?;
    futures::pin_mut!(sink);
    let mut data = String::new();
    for i in 0..1000 {
        data.push_str(&format!("{},{}.5\n", i % 10, i));
    }
    data.push_str("3,\n");
    sink.send(bytes::Bytes::from(data)).await?;
    let copied = sink.finish().await?;
    assert_eq!(copied, 1001);
    let row = client.query_one("SELECT v::text FROM s WHERE k = 3", &[]).await?;
    let expected: f64 = (0..1000).filter(|i| i % 10 == 3).map(|i| i as f64 + 0.5).sum();
    assert_eq!(row.get::<_, String>(0), format!("{expected:.1}"));

    // A bad line is an error naming the line, and nothing of that COPY is applied.
    let sink = client.copy_in("COPY m FROM STDIN WITH (FORMAT csv)").await?;
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from("1,2\nnot-a-number,3\n")).await?;
    let err = sink.finish().await.expect_err("bad COPY data must fail");
    let db = err.as_db_error().expect("a database error");
    assert_eq!(db.code().code(), "22P02");
    assert!(db.where_().unwrap_or_default().contains("line 2"), "context names the line: {db:?}");
    let count = client.query_one("SELECT count(*) FROM m", &[]).await?;
    assert_eq!(count.get::<_, i64>(0), 1001);

    // COPY respects primary keys, against existing rows and within its own data.
    client
        .batch_execute("CREATE TABLE keyed (id int PRIMARY KEY, v text); INSERT INTO keyed VALUES (7, 'old')")
        .await?;
    for data in ["1\ta\n2\tb\n7\tdup\n", "1\ta\n2\tb\n2\tagain\n"] {
        let sink = client.copy_in("COPY keyed FROM STDIN").await?;
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from(data)).await?;
        let err = sink.finish().await.expect_err("a duplicate key must fail the COPY");
        let db = err.as_db_error().expect("a database error");
        assert_eq!(db.code().code(), "23505", "{db:?}");
        assert_eq!(db.message(), "duplicate key value violates unique constraint \"keyed_pkey\"");
    }
    let count = client.query_one("SELECT count(*) FROM keyed", &[]).await?;
    assert_eq!(count.get::<_, i64>(0), 1, "nothing of a failed COPY is applied");

    // COPY respects CHECK constraints, with PostgreSQL's message and detail.
    client.batch_execute("CREATE TABLE positive (n int CHECK (n > 0), s text)").await?;
    let sink = client.copy_in("COPY positive FROM STDIN").await?;
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from(
        "1	a
-3	b
",
    ))
    .await?;
    let err = sink.finish().await.expect_err("a failed CHECK must fail the COPY");
    let db = err.as_db_error().expect("a database error");
    assert_eq!(db.code().code(), "23514", "{db:?}");
    assert_eq!(db.message(), "new row for relation \"positive\" violates check constraint \"positive_n_check\"");
    assert_eq!(db.detail(), Some("Failing row contains (-3, b)."));
    let count = client.query_one("SELECT count(*) FROM positive", &[]).await?;
    assert_eq!(count.get::<_, i64>(0), 0, "nothing of a failed COPY is applied");

    // A default that gives a new value per call is evaluated for each copied row.
    client.batch_execute("CREATE TABLE ids (id uuid DEFAULT gen_random_uuid(), n int)").await?;
    let sink = client.copy_in("COPY ids (n) FROM STDIN").await?;
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from("1\n2\n3\n")).await?;
    sink.finish().await?;
    let row = client.query_one("SELECT count(*), count(DISTINCT id) FROM ids WHERE id IS NOT NULL", &[]).await?;
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (3, 3), "one new uuid per row");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_apply_atomically_at_commit() -> anyhow::Result<()> {
    let server = EddyProcess::start(1)?;
    let client = server.connect().await?;
    client.batch_execute("CREATE TABLE a (x int)").await?;
    client.batch_execute("BEGIN; INSERT INTO a VALUES (1); INSERT INTO a VALUES (2); COMMIT").await?;
    client.batch_execute("BEGIN; INSERT INTO a VALUES (3); ROLLBACK").await?;
    let n = client.query_one("SELECT count(*) FROM a", &[]).await?;
    assert_eq!(n.get::<_, i64>(0), 2);
    Ok(())
}

/// Two sessions updating the same row: the transaction block that read it first and
/// commits second fails with a serialization error instead of removing the row twice
/// (which left a row counted -1 before), and a retry succeeds. `SELECT ... FOR UPDATE`
/// is accepted (no row locks: the same COMMIT check protects the read-modify-write).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_updates_fail_the_later_block_at_commit() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let a = server.connect().await?;
    let b = server.connect().await?;
    a.batch_execute("CREATE TABLE acct (id int PRIMARY KEY, balance int); INSERT INTO acct VALUES (1, 100), (2, 5)")
        .await?;
    a.batch_execute("BEGIN").await?;
    let read = a.query_one("SELECT balance FROM acct WHERE id = 1 FOR UPDATE", &[]).await?;
    assert_eq!(read.get::<_, i32>(0), 100);
    a.batch_execute("UPDATE acct SET balance = balance - 30 WHERE id = 1; DELETE FROM acct WHERE id = 2").await?;
    b.batch_execute("UPDATE acct SET balance = balance + 1 WHERE id = 1").await?;
    let err = a.batch_execute("COMMIT").await.unwrap_err();
    let db = err.as_db_error().expect("a database error");
    assert_eq!(db.code().code(), "40001");
    assert_eq!(db.message(), "could not serialize access due to concurrent update");
    // Nothing of the failed block was applied; the other session's update was.
    let rows = b.query("SELECT id, balance FROM acct ORDER BY id", &[]).await?;
    let rows: Vec<(i32, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(rows, vec![(1, 101), (2, 5)]);
    // The retry reads the new balance and commits.
    a.batch_execute(
        "BEGIN; UPDATE acct SET balance = balance - 30 WHERE id = 1; DELETE FROM acct WHERE id = 2; COMMIT",
    )
    .await?;
    let rows = b.query("SELECT id, balance FROM acct ORDER BY id", &[]).await?;
    let rows: Vec<(i32, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(rows, vec![(1, 71)]);
    // A block whose rows nobody else touched commits as before.
    a.batch_execute("BEGIN; INSERT INTO acct VALUES (3, 0); UPDATE acct SET balance = 1 WHERE id = 3; COMMIT").await?;
    let n = b.query_one("SELECT count(*) FROM acct", &[]).await?;
    assert_eq!(n.get::<_, i64>(0), 2);
    let locked = a.query("SELECT id FROM acct ORDER BY id FOR SHARE SKIP LOCKED", &[]).await?;
    assert_eq!(locked.len(), 2);
    // A table rebuilt by another session's ALTER TABLE since the block wrote to it: the
    // block's rows would be lost, so COMMIT fails.
    a.batch_execute("BEGIN; INSERT INTO acct VALUES (4, 4)").await?;
    b.batch_execute("ALTER TABLE acct ADD COLUMN note text").await?;
    let err = a.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("40001"));
    let n = b.query_one("SELECT count(*) FROM acct", &[]).await?;
    assert_eq!(n.get::<_, i64>(0), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_carry_sqlstates_and_do_not_disturb_other_sessions() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let a = server.connect().await?;
    let b = server.connect().await?;
    a.batch_execute("CREATE TABLE z (x int NOT NULL)").await?;
    let code = |e: tokio_postgres::Error| e.code().map(|c| c.code().to_string()).unwrap_or_default();
    assert_eq!(code(a.batch_execute("SELEC 1").await.unwrap_err()), "42601");
    assert_eq!(code(a.batch_execute("SELECT * FROM nope").await.unwrap_err()), "42P01");
    assert_eq!(code(a.batch_execute("SELECT 1/0").await.unwrap_err()), "22012");
    assert_eq!(code(a.batch_execute("INSERT INTO z VALUES (NULL)").await.unwrap_err()), "23502");
    assert_eq!(code(a.batch_execute("SELECT 'abc'::int").await.unwrap_err()), "22P02");

    // A client that vanishes mid-session does not take the server with it.
    let c = server.connect().await?;
    drop(c);
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", server.port))?;
    use std::io::Write;
    raw.write_all(&[0, 0, 0, 8, 4, 210, 22])?; // a truncated startup packet
    drop(raw);

    b.batch_execute("INSERT INTO z VALUES (7)").await?;
    let v = a.query_one("SELECT x FROM z", &[]).await?;
    assert_eq!(v.get::<_, i32>(0), 7);
    Ok(())
}

/// `COPY ... TO STDOUT` in PostgreSQL's text and CSV formats (bytes checked against
/// what PostgreSQL 15 writes for the same rows), through tokio-postgres and psql's `\copy`.
#[tokio::test(flavor = "multi_thread")]
async fn copy_to_stdout_writes_postgres_formats() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE ct (id int, name text, tags text[], f float8, b bool);
             INSERT INTO ct VALUES (1, 'a,b', '{x,y}', 1.5, true), (2, NULL, NULL, NULL, false),
               (3, E'tab\there\\\\back\nnl', '{}', -0.25, NULL), (4, '', '{\"q\"}', 1e20, true);",
        )
        .await?;
    let copy = |sql: &'static str| {
        let client = &client;
        async move {
            let stream = client.copy_out(sql).await?;
            futures::pin_mut!(stream);
            let mut out = Vec::new();
            while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
                out.extend_from_slice(&chunk?);
            }
            Ok::<_, anyhow::Error>(String::from_utf8(out)?)
        }
    };
    let text = copy("COPY (SELECT * FROM ct ORDER BY id) TO STDOUT").await?;
    assert_eq!(
        text,
        "1\ta,b\t{x,y}\t1.5\tt\n2\t\\N\t\\N\t\\N\tf\n3\ttab\\there\\\\back\\nnl\t{}\t-0.25\t\\N\n4\t\t{q}\t1e+20\tt\n"
    );
    let csv = copy("COPY (SELECT id, name, tags FROM ct ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)").await?;
    assert_eq!(csv, "id,name,tags\n1,\"a,b\",\"{x,y}\"\n2,,\n3,\"tab\there\\back\nnl\",{}\n4,\"\",{q}\n");
    assert_eq!(copy("COPY (SELECT * FROM ct WHERE id > 10) TO STDOUT CSV HEADER").await?, "id,name,tags,f,b\n");
    assert_eq!(copy("COPY ct (id) TO STDOUT").await?.lines().count(), 4);

    let file = std::env::temp_dir().join(format!("eddy-copy-{}.csv", server.port));
    let status = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &server.port.to_string(), "-U", "eddy"])
        .args(["-d", "eddy", "-c", &format!("\\copy (SELECT id, b FROM ct ORDER BY id) TO '{}' CSV", file.display())])
        .status()?;
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&file)?, "1,t\n2,f\n3,\n4,t\n");
    let _ = std::fs::remove_file(&file);
    Ok(())
}

/// A cancel request (psql's Ctrl-C; here tokio-postgres's cancel token) stops a running
/// query, a `SUBSCRIBE` and a waiting `FETCH` with SQLSTATE 57014, and the connection
/// goes on serving; so does `statement_timeout`; a cancel with the wrong key stops nothing.
#[tokio::test(flavor = "multi_thread")]
async fn cancel_requests_stop_the_running_statement() -> anyhow::Result<()> {
    use std::time::{Duration, Instant};
    let server = EddyProcess::start(2)?;
    let client = Arc::new(server.connect().await?);
    let code = |e: &tokio_postgres::Error| e.code().map(|c| c.code().to_string()).unwrap_or_default();
    client.batch_execute("CREATE TABLE c (x int); INSERT INTO c VALUES (1)").await?;

    // A query that takes many seconds.
    let cancel = client.cancel_token();
    let started = Instant::now();
    let running = tokio::spawn({
        let client = client.clone();
        async move {
            let sql = "SELECT count(*) FROM generate_series(1, 4000000) a JOIN generate_series(1, 4000000) b ON a = b";
            client.query_one(sql, &[]).await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel_query(tokio_postgres::NoTls).await?;
    let err = running.await?.expect_err("the query was cancelled");
    assert_eq!(code(&err), "57014", "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "cancelled only after {:?}", started.elapsed());
    assert_eq!(client.query_one("SELECT count(*) FROM c", &[]).await?.get::<_, i64>(0), 1);

    // pg_sleep stops at a cancel, and does not hold up other sessions while it sleeps.
    let sleeping = tokio::spawn({
        let client = client.clone();
        async move { client.simple_query("SELECT pg_sleep(60)").await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other = server.connect().await?;
    assert_eq!(other.query_one("SELECT count(*) FROM c", &[]).await?.get::<_, i64>(0), 1);
    assert!(!sleeping.is_finished(), "pg_sleep(60) returned early");
    cancel.cancel_query(tokio_postgres::NoTls).await?;
    let err = tokio::time::timeout(Duration::from_secs(10), sleeping).await??.expect_err("pg_sleep was cancelled");
    assert_eq!(code(&err), "57014", "{err}");

    // A FETCH waiting for changes that do not come.
    client.batch_execute("BEGIN; DECLARE cur CURSOR FOR SUBSCRIBE c").await?;
    client.simple_query("FETCH ALL cur").await?; // the snapshot
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.simple_query("FETCH ALL cur").await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "FETCH should wait for a change");
    cancel.cancel_query(tokio_postgres::NoTls).await?;
    let err = tokio::time::timeout(Duration::from_secs(10), waiting).await??.expect_err("FETCH was cancelled");
    assert_eq!(code(&err), "57014", "{err}");
    client.batch_execute("ROLLBACK").await?;

    // A SUBSCRIBE streaming as COPY.
    let subscription = client.copy_out("COPY (SUBSCRIBE c) TO STDOUT").await?;
    let streaming = tokio::spawn(async move {
        futures::pin_mut!(subscription);
        while let Some(chunk) = futures::StreamExt::next(&mut subscription).await {
            chunk?;
        }
        Ok::<_, tokio_postgres::Error>(())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!streaming.is_finished(), "SUBSCRIBE should keep streaming");
    cancel.cancel_query(tokio_postgres::NoTls).await?;
    let err = tokio::time::timeout(Duration::from_secs(10), streaming).await??.expect_err("SUBSCRIBE was cancelled");
    assert_eq!(code(&err), "57014", "{err}");

    // statement_timeout cancels through the same path, per statement.
    client.batch_execute("SET statement_timeout = '300ms'").await?;
    let sql = "SELECT count(*) FROM generate_series(1, 4000000) a JOIN generate_series(1, 4000000) b ON a = b";
    let err = client.query_one(sql, &[]).await.expect_err("timed out");
    assert_eq!(code(&err), "57014", "{err}");
    let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert_eq!(message, "canceling statement due to statement timeout");
    assert_eq!(client.query_one("SELECT count(*) FROM c", &[]).await?.get::<_, i64>(0), 1);
    client.batch_execute("SET statement_timeout = 0").await?;

    // Another connection's key cancels nothing here.
    let other = server.connect().await?;
    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            let sql = "SELECT count(*) FROM generate_series(1, 300000) a JOIN generate_series(1, 300000) b ON a = b";
            client.query_one(sql, &[]).await.map(|r| r.get::<_, i64>(0))
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    other.cancel_token().cancel_query(tokio_postgres::NoTls).await?;
    assert_eq!(slow.await??, 300_000);
    Ok(())
}

/// `pg_stat_activity` shows every connection (user, database and application it connected
/// with, its state and statement); `pg_cancel_backend` stops another connection's
/// statement and `pg_terminate_backend` closes the connection, as in PostgreSQL.
#[tokio::test(flavor = "multi_thread")]
async fn pg_stat_activity_lists_connections_which_can_be_cancelled_and_terminated() -> anyhow::Result<()> {
    use std::time::{Duration, Instant};
    let server = EddyProcess::start(2)?;
    let admin = server.connect().await?;
    let conn_str = server.connection_string().replace("user=eddy dbname=eddy", "user=alice dbname=shop");
    let (worker, connection) =
        tokio_postgres::connect(&format!("{conn_str} application_name=nightly"), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let worker = Arc::new(worker);
    let pid: i32 = worker.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    worker.batch_execute("BEGIN; SELECT 1").await?;

    let row = admin
        .query_one(
            "SELECT usename, datname, application_name, state, query, xact_start IS NOT NULL, client_addr \
             FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .await?;
    let columns: (String, String, String, String, String, bool, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5), row.get(6));
    let expected = ("alice", "shop", "nightly", "idle in transaction", "BEGIN; SELECT 1", true, "127.0.0.1");
    assert_eq!((&*columns.0, &*columns.1, &*columns.2, &*columns.3, &*columns.4, columns.5, &*columns.6), expected);
    let mine: String =
        admin.query_one("SELECT state FROM pg_stat_activity WHERE pid = pg_backend_pid()", &[]).await?.get(0);
    assert_eq!(mine, "active");
    worker.batch_execute("COMMIT").await?;

    // A long statement shows as active, and pg_cancel_backend stops it.
    let heavy = "SELECT count(*) FROM generate_series(1, 4000000) a JOIN generate_series(1, 4000000) b ON a = b";
    let running = tokio::spawn({
        let worker = worker.clone();
        async move { worker.query_one(heavy, &[]).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = admin
            .query_opt(
                "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query = $2",
                &[&pid, &heavy],
            )
            .await?;
        if shown.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the running statement never showed in pg_stat_activity");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cancelled: bool = admin.query_one("SELECT pg_cancel_backend($1)", &[&pid]).await?.get(0);
    assert!(cancelled);
    let err = tokio::time::timeout(Duration::from_secs(10), running).await??.expect_err("cancelled");
    assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err}");
    assert_eq!(worker.query_one("SELECT 7", &[]).await?.get::<_, i32>(0), 7);

    // A pid that is no connection: false; NULL: NULL.
    let row = admin.query_one("SELECT pg_cancel_backend(-1), pg_terminate_backend(NULL)", &[]).await?;
    assert_eq!((row.get::<_, bool>(0), row.get::<_, Option<bool>>(1)), (false, None));

    // pg_terminate_backend closes the connection; it leaves pg_stat_activity.
    let terminated: bool = admin.query_one("SELECT pg_terminate_backend($1)", &[&pid]).await?.get(0);
    assert!(terminated);
    let deadline = Instant::now() + Duration::from_secs(10);
    while admin.query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid]).await?.is_some() {
        assert!(Instant::now() < deadline, "the terminated connection is still listed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(worker.query_one("SELECT 1", &[]).await.is_err(), "the terminated connection still answers");
    assert_eq!(admin.query_one("SELECT count(*) FROM pg_stat_activity", &[]).await?.get::<_, i64>(0), 1);
    Ok(())
}

/// A heavy ad-hoc query runs without holding up other sessions (its inputs are read at
/// one time, then it is evaluated off the coordinator), and one that would not fit in
/// memory is refused with 54000 instead of taking the server down.
#[tokio::test(flavor = "multi_thread")]
async fn a_heavy_query_neither_blocks_others_nor_exhausts_memory() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let heavy = server.connect().await?;
    let other = server.connect().await?;
    other.batch_execute("CREATE TABLE w (x int)").await?;
    let code = |e: tokio_postgres::Error| e.code().map(|c| c.code().to_string()).unwrap_or_default();
    let huge = other.batch_execute("SELECT count(*) FROM generate_series(1, 100000000)").await.unwrap_err();
    assert_eq!(code(huge), "54000");
    let huge = other.batch_execute("SELECT count(*) FROM generate_series(1, 5000) a, generate_series(1, 5000) b");
    assert_eq!(code(huge.await.unwrap_err()), "54000");

    let started = std::time::Instant::now();
    let slow = tokio::spawn(async move {
        let sql = "SELECT count(*) FROM generate_series(1, 1500000) a JOIN generate_series(1, 1500000) b ON a = b";
        heavy.query_one(sql, &[]).await.map(|r| r.get::<_, i64>(0))
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut quick = Vec::new();
    for i in 0..5 {
        let t = std::time::Instant::now();
        other.batch_execute(&format!("INSERT INTO w VALUES ({i})")).await?;
        other.query_one("SELECT count(*) FROM w", &[]).await?;
        quick.push(t.elapsed());
    }
    let answered_at = started.elapsed();
    let still_running = !slow.is_finished();
    assert_eq!(slow.await??, 1_500_000);
    assert!(
        still_running,
        "the other session waited for the heavy query: answered after {answered_at:?}, after it ended at \
         {:?} (each insert+read: {quick:?})",
        started.elapsed()
    );
    Ok(())
}

/// Python's drivers (psycopg 3: extended protocol, binary parameters, pipelined
/// executemany, COPY, implicit transactions; psycopg2: client-side interpolation over the
/// simple protocol) run `tests/drivers/psycopg_client.py` against a real `eddy`.
#[test]
fn psycopg_and_psycopg2_work() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let script = eddy_tests::manifest_dir().join("drivers/psycopg_client.py");
    // Debian's interpreter, where python3-psycopg and python3-psycopg2 are installed.
    let output =
        std::process::Command::new("/usr/bin/python3").arg(&script).arg(server.connection_string()).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{} failed:\n{stdout}\n{stderr}", script.display());
    assert!(stdout.contains("all checks passed"), "unexpected output: {stdout}");
    Ok(())
}

/// SQLAlchemy's reflection (what ORMs, migration tools and BI tools run first) and a round
/// trip through a reflected table.
#[test]
fn sqlalchemy_reflects_tables_and_round_trips_rows() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let script = eddy_tests::manifest_dir().join("drivers/sqlalchemy_client.py");
    let output = std::process::Command::new("/usr/bin/python3").arg(&script).arg(server.port.to_string()).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{} failed:\n{stdout}\n{stderr}", script.display());
    assert!(stdout.contains("all checks passed"), "unexpected output: {stdout}");
    Ok(())
}

/// psql itself, with the meta-commands that list relations (`\dt`, `\dv`, `\dm`, `\d`,
/// `\di`), databases and roles (`\l`, `\du`), and describe relations (`\d name`,
/// `\d+ name`): they query pg_catalog, with arrays, regclass casts and subqueries.
#[test]
fn psql_lists_relations() -> anyhow::Result<()> {
    let server = EddyProcess::start(1)?;
    let mut psql = std::process::Command::new("psql");
    psql.args(["-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &server.port.to_string(), "-U", "eddy", "eddy"]);
    psql.args([
        "-c",
        "CREATE TABLE orders (id int PRIMARY KEY, amt int, code text UNIQUE); \
         CREATE VIEW big AS SELECT * FROM orders WHERE amt > 10; \
         CREATE MATERIALIZED VIEW total AS SELECT sum(amt) FROM orders; CREATE INDEX orders_amt ON orders (amt); \
         CREATE TABLE lines (n int, order_id int REFERENCES orders ON DELETE CASCADE)",
    ]);
    for meta in [
        "\\dt",
        "\\dv",
        "\\dm",
        "\\d",
        "\\di",
        "\\d big",
        "\\d orders",
        "\\d lines",
        "\\d orders_amt",
        "\\d orders_pkey",
        "\\d+ total",
        "\\l",
        "\\du",
        "\\df",
        "\\dx",
        "\\dT",
    ] {
        psql.args(["-c", meta]);
    }
    let output = psql.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "psql failed: {}", String::from_utf8_lossy(&output.stderr));
    for expected in [
        " public | orders | table | eddy",
        " public | big  | view | eddy",
        " public | total | materialized view | eddy",
        " public | big    | view              | eddy",
        " public | orders_amt      | index | eddy  | orders",
        " public | orders_pkey     | index | eddy  | orders",
        "View \"public.big\"",
        " amt    | integer |           |          | ",
        "Table \"public.orders\"",
        "Indexes:",
        "    \"orders_pkey\" PRIMARY KEY, btree (id)",
        "    \"orders_amt\" btree (amt)",
        "    \"orders_code_key\" UNIQUE CONSTRAINT, btree (code)",
        // Foreign keys, from both ends, as PostgreSQL's psql shows them.
        "Referenced by:",
        "    TABLE \"lines\" CONSTRAINT \"lines_order_id_fkey\" FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE",
        "Foreign-key constraints:",
        "    \"lines_order_id_fkey\" FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE",
        "Index \"public.orders_amt\"",
        "btree, for table \"public.orders\"",
        "primary key, btree, for table \"public.orders\"",
        "Materialized view \"public.total\"",
        "SELECT sum(amt) FROM orders",
        " eddy | eddy  | UTF8     |",
        " eddy      | Superuser",
        "List of functions",
        "List of installed extensions",
        "List of data types",
    ] {
        assert!(stdout.contains(expected), "psql output lacks {expected:?}:\n{stdout}");
    }
    Ok(())
}

/// NOTICEs and WARNINGs reach the client, with PostgreSQL's SQLSTATEs, before the
/// statement's result; the statements still succeed.
#[test]
fn psql_shows_notices_and_warnings() -> anyhow::Result<()> {
    let server = EddyProcess::start(1)?;
    let mut psql = std::process::Command::new("psql");
    psql.args(["-X", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"]);
    psql.args(["-h", "127.0.0.1", "-p", &server.port.to_string(), "-U", "eddy", "eddy"]);
    for sql in [
        "DROP TABLE IF EXISTS nope",
        "CREATE TABLE t1 (a int)",
        "CREATE TABLE IF NOT EXISTS t1 (a int)",
        "DROP MATERIALIZED VIEW IF EXISTS nope_mv, also_nope",
        "DROP INDEX IF EXISTS nope_idx",
        "DROP SEQUENCE IF EXISTS nope_seq",
        "CREATE SCHEMA IF NOT EXISTS public",
        "DROP SCHEMA IF EXISTS nope_schema",
        "ALTER TABLE IF EXISTS nope_t ADD COLUMN x int",
        "ALTER SEQUENCE IF EXISTS nope_s RESTART",
        "COMMIT",
        "BEGIN; BEGIN; COMMIT",
        "CREATE TABLE ct (a int PRIMARY KEY); CREATE VIEW cv AS SELECT * FROM ct; \
         CREATE MATERIALIZED VIEW cm AS SELECT * FROM cv; CREATE TABLE cc (a int REFERENCES ct)",
        "DROP TABLE ct CASCADE",
        "CREATE VIEW v1 AS SELECT * FROM t1",
        "DROP TABLE t1 CASCADE",
        "SELECT count(*) AS rows_in_cc FROM cc",
        "CREATE SCHEMA ns; CREATE TABLE ns.t (a int); CREATE VIEW ns.v AS SELECT * FROM ns.t",
        "DROP SCHEMA ns CASCADE",
    ] {
        psql.args(["-c", sql]);
    }
    let output = psql.output()?;
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "psql failed: {stderr}");
    for expected in [
        "NOTICE:  00000: table \"nope\" does not exist, skipping",
        "NOTICE:  42P07: relation \"t1\" already exists, skipping",
        "NOTICE:  00000: materialized view \"nope_mv\" does not exist, skipping",
        "NOTICE:  00000: materialized view \"also_nope\" does not exist, skipping",
        "NOTICE:  00000: index \"nope_idx\" does not exist, skipping",
        "NOTICE:  00000: sequence \"nope_seq\" does not exist, skipping",
        "NOTICE:  42P06: schema \"public\" already exists, skipping",
        "NOTICE:  00000: schema \"nope_schema\" does not exist, skipping",
        "NOTICE:  00000: relation \"nope_t\" does not exist, skipping",
        "NOTICE:  00000: relation \"nope_s\" does not exist, skipping",
        "WARNING:  25P01: there is no transaction in progress",
        "WARNING:  25001: there is already a transaction in progress",
        "NOTICE:  00000: drop cascades to 3 other objects\nDETAIL:  drop cascades to view cv\n\
         drop cascades to materialized view cm\ndrop cascades to constraint cc_a_fkey on table cc",
        "NOTICE:  00000: drop cascades to view v1",
        "NOTICE:  00000: drop cascades to 2 other objects\nDETAIL:  drop cascades to table ns.t\n\
         drop cascades to view ns.v",
    ] {
        assert!(stderr.contains(expected), "psql's messages lack {expected:?}:\n{stderr}");
    }
    assert!(stdout.contains("rows_in_cc"), "the last statement ran: {stdout}");
    Ok(())
}
