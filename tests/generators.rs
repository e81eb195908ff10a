//! Built-in load generators through a real `eddy`: live rows with no broker, views over
//! them kept fresh, `UP TO` limits, SHOW SOURCES, and DROP SOURCE ... CASCADE.

use std::time::{Duration, Instant};

use eddy_tests::EddyProcess;
use tokio_postgres::Client;

async fn count(client: &Client, sql: &str) -> anyhow::Result<i64> {
    Ok(client.query_one(sql, &[]).await?.get(0))
}

/// Polls `sql` (one bigint) until `ok` holds, for up to 30 s; returns the last value.
async fn wait_until(client: &Client, sql: &str, ok: impl Fn(i64) -> bool) -> anyhow::Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = count(client, sql).await?;
        if ok(v) || Instant::now() > deadline {
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn counter_ticks_and_views_follow() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE SOURCE c FROM LOAD GENERATOR COUNTER (TICK INTERVAL '20ms');
             CREATE MATERIALIZED VIEW stats AS SELECT count(*) AS n, max(counter) AS top, sum(counter) AS total FROM c;",
        )
        .await?;
    let n = wait_until(&client, "SELECT n FROM stats", |n| n >= 5).await?;
    assert!(n >= 5, "the counter ticks: {n}");
    // One read sees one point in time: 1..top all present, once each.
    let row = client.query_one("SELECT n, top, total::bigint FROM stats", &[]).await?;
    let (n, top, total): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(n, top);
    assert_eq!(total, top * (top + 1) / 2);
    let later = wait_until(&client, "SELECT n FROM stats", |m| m > n).await?;
    assert!(later > n, "the view keeps up with the counter");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn nexmark_streams_with_the_standard_mix_and_up_to() -> anyhow::Result<()> {
    let server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE SOURCE nx FROM LOAD GENERATOR NEXMARK (TICK INTERVAL '10ms', EVENTS PER SECOND 20000, UP TO 5000)
               FOR ALL TABLES;
             CREATE MATERIALIZED VIEW q_hot AS
               SELECT a.category, count(*) AS bids, max(b.price) AS top
               FROM bid b JOIN auction a ON a.id = b.auction GROUP BY a.category;",
        )
        .await?;
    let status = "SELECT count(*) FROM eddy_catalog.sources WHERE name = 'nx' AND status = 'finished'";
    assert_eq!(wait_until(&client, status, |n| n == 1).await?, 1, "UP TO 5000 finishes");
    assert_eq!(count(&client, "SELECT count(*) FROM person").await?, 100);
    assert_eq!(count(&client, "SELECT count(*) FROM auction").await?, 300);
    assert_eq!(count(&client, "SELECT count(*) FROM bid").await?, 4600);
    // Every bid names an auction and a person that exist (an inner join loses none).
    assert_eq!(count(&client, "SELECT sum(bids)::bigint FROM q_hot").await?, 4600);
    assert_eq!(count(&client, "SELECT count(*) FROM bid b JOIN person p ON p.id = b.bidder").await?, 4600);
    let shown = client.simple_query("SHOW SOURCES").await?;
    let names: Vec<String> = shown
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["auction", "bid", "nx", "person"]);
    let create = client.query_one("SHOW CREATE SOURCE nx", &[]).await?;
    assert!(create.get::<_, String>(1).starts_with("CREATE SOURCE nx FROM LOAD GENERATOR NEXMARK"));
    let err = client.batch_execute("DROP SOURCE nx").await.expect_err("tables depend on it");
    assert_eq!(err.code().map(|c| c.code()), Some("2BP01"));
    client.batch_execute("DROP SOURCE nx CASCADE").await?;
    assert!(client.simple_query("SELECT * FROM bid").await.is_err(), "gone with its source");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn auction_tables_and_bad_options() -> anyhow::Result<()> {
    let server = EddyProcess::start(1)?;
    let client = server.connect().await?;
    client.batch_execute("CREATE SOURCE ah FROM LOAD GENERATOR AUCTION (TICK INTERVAL '10ms', UP TO 20)").await?;
    assert_eq!(wait_until(&client, "SELECT count(*) FROM auctions", |n| n == 20).await?, 20);
    assert_eq!(count(&client, "SELECT count(*) FROM users").await?, 100);
    assert_eq!(
        count(&client, "SELECT count(*) FROM bids b JOIN auctions a ON a.id = b.auction_id").await?,
        count(&client, "SELECT count(*) FROM bids").await?
    );
    for (sql, message) in [
        ("CREATE SOURCE x FROM LOAD GENERATOR TPCH", "syntax error: unknown load generator TPCH: expected COUNTER, AUCTION or NEXMARK"),
        ("CREATE SOURCE x FROM LOAD GENERATOR COUNTER (TICK INTERVAL 'soon')", "TICK INTERVAL: invalid input syntax for type interval: \"soon\""),
        ("CREATE SOURCE x FROM LOAD GENERATOR COUNTER (SPEED 3)", "invalid load generator option SPEED a number (known: TICK INTERVAL 'duration', EVENTS PER SECOND n (NEXMARK), UP TO n)"),
        ("CREATE SOURCE ah FROM LOAD GENERATOR COUNTER", "relation \"ah\" already exists"),
        ("CREATE SOURCE x FROM LOAD GENERATOR AUCTION", "relation \"organizations\" already exists"),
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        assert_eq!(err.as_db_error().map(|e| e.message()), Some(message), "{sql}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_endpoint_reports_sources() -> anyhow::Result<()> {
    let http = eddy_tests::free_port()?;
    let args = ["--http".to_string(), format!("127.0.0.1:{http}")];
    let server = EddyProcess::start_custom(&eddy_tests::eddy_binary(), 1, &[], &args)?;
    let client = server.connect().await?;
    client.batch_execute("CREATE SOURCE c FROM LOAD GENERATOR COUNTER (TICK INTERVAL '10ms', UP TO 7)").await?;
    assert_eq!(wait_until(&client, "SELECT count(*) FROM c", |n| n == 7).await?, 7);
    let get = |path: &str| -> anyhow::Result<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", http))?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    let metrics = get("/metrics")?;
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    assert!(metrics.contains("# TYPE eddy_source_messages_total counter"), "{metrics}");
    assert!(metrics.contains("eddy_source_messages_total{source=\"c\",type=\"load-generator\"} 7\n"), "{metrics}");
    assert!(metrics.contains("eddy_source_decode_errors_total{source=\"c\",type=\"load-generator\"} 0\n"), "{metrics}");
    assert!(get("/health")?.ends_with("ok\n"));
    assert!(get("/nope")?.starts_with("HTTP/1.1 404"));
    Ok(())
}
