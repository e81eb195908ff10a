//! Durability through a real `eddy`: everything survives `kill -9` and a restart on the
//! same `--data-dir` (catalog, table rows, source rows with their Kafka offsets, UPSERT
//! state), nothing is counted twice, and a data directory that is in use, corrupt, from
//! a newer version or full gives a clear error.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use eddy_tests::kafka::{KafkaBroker, Record};
use eddy_tests::{eddy_binary, free_port, row, rows, wait_for, EddyProcess};

/// A small deterministic generator for kill points; the seed is printed so a failing run
/// can be repeated.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn seed() -> u64 {
    std::env::var("EDDY_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_tables_and_views_survive_kill_9() -> anyhow::Result<()> {
    let mut server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2));
             INSERT INTO accounts VALUES (1, 'ann', 10.50), (2, 'bob', NULL), (3, 'cy', -2.25);
             UPDATE accounts SET balance = balance + 1 WHERE id = 1;
             DELETE FROM accounts WHERE id = 3;
             CREATE INDEX accounts_owner ON accounts (owner);
             CREATE VIEW rich AS SELECT owner FROM accounts WHERE balance > 5;
             CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n, sum(balance) AS total FROM accounts;
             CREATE MATERIALIZED VIEW ranked AS SELECT owner, rank() OVER (ORDER BY balance DESC NULLS LAST) AS r
               FROM accounts ORDER BY balance DESC NULLS LAST LIMIT 1;
             CREATE DYNAMIC TABLE slow TARGET_LAG = '1 hour' AS SELECT count(*) AS n FROM accounts;
             ALTER DYNAMIC TABLE slow SET TARGET_LAG = '2 seconds';
             CREATE DYNAMIC TABLE hourly TARGET_LAG = '1 hour' AS SELECT count(*) AS n FROM accounts;
             CREATE DYNAMIC TABLE hourly_full TARGET_LAG = '1 hour' REFRESH_MODE = FULL
               AS SELECT count(*) AS n FROM accounts;
             CREATE DYNAMIC TABLE owners TARGET_LAG = DOWNSTREAM AS SELECT owner FROM accounts;
             CREATE DYNAMIC TABLE owner_count TARGET_LAG = '1 hour' AS SELECT count(*) AS n FROM owners;
             CREATE VIEW named AS SELECT owner FROM accounts;
             CREATE MATERIALIZED VIEW shouted AS SELECT owner FROM named;
             CREATE OR REPLACE VIEW named AS SELECT upper(owner) AS owner FROM accounts;
             CREATE SECRET pw AS 'hunter2';
             CREATE CONNECTION k TO KAFKA (BROKER '127.0.0.1:1', SASL USERNAME 'u', SASL PASSWORD SECRET pw);
             CREATE SOURCE counter FROM LOAD GENERATOR COUNTER (TICK INTERVAL '10ms', UP TO 40);
             CREATE MATERIALIZED VIEW counted AS SELECT count(*) AS n, sum(counter) AS s FROM counter;
             CREATE TABLE dropped (x int);
             INSERT INTO dropped VALUES (1);
             DROP TABLE dropped;
             CREATE TABLE checked (a int CHECK (a > 0), b int, CONSTRAINT small CHECK (a + b < 10));
             COMMENT ON TABLE accounts IS 'who has what';
             COMMENT ON COLUMN accounts.balance IS 'in euros';",
        )
        .await?;
    wait_for(&client, "SELECT n, s FROM counted", &vec![row(&["40", "820"])]).await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;

    assert_eq!(
        rows(&client, "SELECT id, owner, balance FROM accounts ORDER BY id").await?,
        vec![row(&["1", "ann", "11.50"]), vec![Some("2".into()), Some("bob".into()), None]]
    );
    assert_eq!(rows(&client, "SELECT * FROM rich").await?, vec![row(&["ann"])]);
    let shouted = rows(&client, "SELECT owner FROM shouted ORDER BY 1").await?;
    assert_eq!(shouted, vec![row(&["ANN"]), row(&["BOB"])], "a replaced view's reader, restored");
    assert_eq!(rows(&client, "SELECT n, total FROM totals").await?, vec![row(&["2", "11.50"])]);
    assert_eq!(rows(&client, "SELECT owner, r FROM ranked").await?, vec![row(&["ann", "1"])], "window + LIMIT view");
    let tables = rows(&client, "SHOW TABLES").await?;
    assert_eq!(tables, vec![row(&["accounts"]), row(&["checked"])], "the dropped table stays dropped");
    assert_eq!(rows(&client, "SHOW INDEXES").await?, vec![row(&["accounts_owner", "accounts", "owner"])]);
    assert_eq!(rows(&client, "SHOW SECRETS").await?, vec![row(&["pw"])]);
    let comments = "SELECT obj_description('accounts'::regclass), col_description('accounts'::regclass, 3)";
    assert_eq!(rows(&client, comments).await?, vec![row(&["who has what", "in euros"])], "comments are kept");
    let connections = rows(&client, "SHOW CONNECTIONS").await?;
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0][0].as_deref(), Some("k"));
    let lag = rows(&client, "SELECT target_lag_ms FROM eddy_catalog.freshness WHERE name = 'slow'").await?;
    assert_eq!(lag, vec![row(&["2000"])], "ALTER's target lag is kept");
    let shown = rows(&client, "SHOW CREATE DYNAMIC TABLE slow").await?;
    assert!(shown[0][1].as_deref().unwrap_or("").contains("TARGET_LAG = '2 seconds'"), "{shown:?}");
    let lag = rows(&client, "SELECT refresh, target_lag_ms FROM eddy_catalog.freshness WHERE name = 'owners'").await?;
    assert_eq!(lag, vec![row(&["downstream", "3600000"])], "DOWNSTREAM resolved again");
    // What is stored, and the views' rehydration, are visible.
    let stored = "SELECT rows, bytes > 0, updates_in_memory, bytes_in_memory >= 64 FROM eddy_catalog.storage \
                  WHERE name = 'accounts'";
    let expected = vec![row(&["2", "t", "2", "t"])];
    assert_eq!(wait_for(&client, stored, &expected).await?, expected);
    let hydrated = "SELECT name, hydrated FROM eddy_catalog.hydration WHERE kind = 'materialized view' ORDER BY name";
    let expected: Vec<_> =
        ["counted", "hourly", "hourly_full", "owner_count", "owners", "ranked", "shouted", "slow", "totals"]
            .iter()
            .map(|name| row(&[name, "t"]))
            .collect();
    assert_eq!(wait_for(&client, hydrated, &expected).await?, expected);
    // Views refreshing hourly show what they showed before the restart, not nothing
    // until their next refresh.
    for view in ["hourly", "hourly_full", "owner_count"] {
        assert_eq!(rows(&client, &format!("SELECT n FROM {view}")).await?, vec![row(&["2"])], "{view}");
    }
    // The generator went on where it stopped: nothing produced twice.
    assert_eq!(rows(&client, "SELECT n, s FROM counted").await?, vec![row(&["40", "820"])]);
    // Constraints still hold, and new objects get fresh ids.
    let dup = client.batch_execute("INSERT INTO accounts VALUES (1, 'again', 0)").await.unwrap_err();
    assert_eq!(dup.code().map(|c| c.code()), Some("23505"), "{dup}");
    for (bad, constraint) in [("(0, 1)", "checked_a_check"), ("(5, 5)", "small")] {
        let err = client.batch_execute(&format!("INSERT INTO checked VALUES {bad}")).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("23514"), "{err}");
        let message = err.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
        assert!(message.contains(constraint), "{message}");
    }
    client
        .batch_execute(
            "INSERT INTO accounts VALUES (4, 'dee', 100);
             CREATE TABLE later (y int); INSERT INTO later VALUES (7);",
        )
        .await?;
    assert_eq!(rows(&client, "SELECT n, total FROM totals").await?, vec![row(&["3", "111.50"])]);
    // Killed right after writes are acknowledged (the second comes before the view's
    // output is stored again): the view read after the restart includes both.
    client.batch_execute("INSERT INTO accounts VALUES (5, 'eve', 1)").await?;
    client.batch_execute("INSERT INTO accounts VALUES (6, 'fay', 2)").await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    assert_eq!(rows(&client, "SELECT n, total FROM totals").await?, vec![row(&["5", "114.50"])]);

    // A clean stop and start keeps everything too.
    server.stop_keeping_data();
    server.restart()?;
    let client = server.connect().await?;
    assert_eq!(rows(&client, "SELECT n, total FROM totals").await?, vec![row(&["5", "114.50"])]);
    assert_eq!(rows(&client, "SELECT y FROM later").await?, vec![row(&["7"])]);
    Ok(())
}

/// A table stored as a log of its changes is compacted once it has churned: its stored
/// changes fall back to about one per row, and what it holds survives `kill -9`.
#[tokio::test(flavor = "multi_thread")]
async fn a_churned_table_is_compacted_and_survives_kill_9() -> anyhow::Result<()> {
    let mut server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE churn (id bigint, v text);
             CREATE MATERIALIZED VIEW churned AS SELECT count(*) AS n, sum(id) AS s FROM churn;",
        )
        .await?;
    // 60k rows in and out, three times, then 1,000 kept: each round's 120k changes for no
    // rows are over the threshold (twice the rows plus 100k), so each is compacted away.
    for _ in 0..3 {
        client.batch_execute("INSERT INTO churn SELECT g, 'x' || g FROM generate_series(1, 60000) g").await?;
        client.batch_execute("DELETE FROM churn WHERE id > 0").await?;
    }
    client.batch_execute("INSERT INTO churn SELECT -g, 'kept' FROM generate_series(1, 1000) g").await?;
    let stored = "SELECT rows, changes FROM eddy_catalog.storage WHERE name = 'churn'";
    let compacted = vec![row(&["1000", "1000"])];
    assert_eq!(wait_for(&client, stored, &compacted).await?, compacted, "the log was compacted");
    let expected = vec![row(&["1000", "-500500"])];
    assert_eq!(rows(&client, "SELECT n, s FROM churned").await?, expected);
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    assert_eq!(
        rows(&client, "SELECT count(*), sum(id), min(v), max(v) FROM churn").await?,
        vec![row(&["1000", "-500500", "kept", "kept"])]
    );
    assert_eq!(wait_for(&client, "SELECT n, s FROM churned", &expected).await?, expected);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn column_defaults_and_serials_survive_kill_9() -> anyhow::Result<()> {
    let mut server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE tickets (id serial PRIMARY KEY, state text NOT NULL DEFAULT 'open', n int DEFAULT 2 + 3);
             INSERT INTO tickets (state) VALUES ('closed');
             INSERT INTO tickets DEFAULT VALUES;",
        )
        .await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    // The defaults come back with the catalog; numbering goes on after the largest id.
    client.batch_execute("INSERT INTO tickets DEFAULT VALUES; INSERT INTO tickets (n) VALUES (9)").await?;
    assert_eq!(
        rows(&client, "SELECT id, state, n FROM tickets ORDER BY id").await?,
        vec![row(&["1", "closed", "5"]), row(&["2", "open", "5"]), row(&["3", "open", "5"]), row(&["4", "open", "9"])]
    );
    // ALTER TABLE rewriting the rows (a new column, a dropped one, a new type) and renaming;
    // the counter goes with the column (the deleted 4 is not handed out again).
    client
        .batch_execute(
            "DELETE FROM tickets WHERE id = 4;
             ALTER TABLE tickets ADD COLUMN note text DEFAULT 'n/a', DROP COLUMN n, ALTER COLUMN id TYPE bigint;
             ALTER TABLE tickets RENAME TO issues; ALTER TABLE issues RENAME COLUMN state TO status",
        )
        .await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    client.batch_execute("INSERT INTO issues (status) VALUES ('new')").await?;
    assert_eq!(
        rows(
            &client,
            "SELECT id::text || ' ' || pg_typeof(id), status, note FROM issues WHERE id IN (1, 5) ORDER BY id"
        )
        .await?,
        vec![row(&["1 bigint", "closed", "n/a"]), row(&["5 bigint", "new", "n/a"])]
    );
    let err = client.query("SELECT * FROM tickets", &[]).await.expect_err("the old name is gone");
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42P01"));

    // Names that must be quoted (capitals, spaces, reserved words) survive too.
    client
        .batch_execute(
            r#"CREATE TABLE "Odd T" ("Order" int, "select" int PRIMARY KEY); INSERT INTO "Odd T" VALUES (1, 2);
               CREATE INDEX "My Idx" ON "Odd T" ("Order")"#,
        )
        .await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    assert_eq!(rows(&client, r#"SELECT "Order", "select" FROM "Odd T""#).await?, vec![row(&["1", "2"])]);

    // A view created with another search_path keeps reading what it read then.
    client
        .batch_execute(
            "CREATE SCHEMA s; CREATE TABLE s.items (x int); CREATE TABLE items (x int);
             INSERT INTO s.items VALUES (1); INSERT INTO items VALUES (2);
             SET search_path TO s, public; CREATE MATERIALIZED VIEW public.total AS SELECT sum(x) AS n FROM items",
        )
        .await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    assert_eq!(rows(&client, "SELECT n FROM total").await?, vec![row(&["1"])]);

    // Numbering never goes back, as with PostgreSQL's sequences: neither the numbers of
    // deleted rows nor those of rolled-back INSERTs come again after a restart.
    client
        .batch_execute("CREATE TABLE numbered (id bigserial, v int); INSERT INTO numbered (v) VALUES (1), (2), (3)")
        .await?;
    client.batch_execute("BEGIN; INSERT INTO numbered (v) VALUES (4); ROLLBACK").await?;
    client.batch_execute("DELETE FROM numbered WHERE id >= 2").await?;
    // An identity column stays GENERATED ALWAYS; values written by hand do not move it.
    client
        .batch_execute(
            "CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY, v int);
             INSERT INTO ident (id, v) OVERRIDING SYSTEM VALUE VALUES (40, 0); INSERT INTO ident (v) VALUES (1)",
        )
        .await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    client.batch_execute("INSERT INTO numbered (v) VALUES (5); INSERT INTO ident (v) VALUES (2)").await?;
    assert_eq!(
        rows(&client, "SELECT id, v FROM numbered ORDER BY id").await?,
        vec![row(&["1", "1"]), row(&["5", "5"])]
    );
    assert_eq!(
        rows(&client, "SELECT id, v FROM ident ORDER BY id").await?,
        vec![row(&["1", "1"]), row(&["2", "2"]), row(&["40", "0"])]
    );
    let err = client.batch_execute("INSERT INTO ident VALUES (7, 7)").await.expect_err("GENERATED ALWAYS");
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("428C9"));

    // Sequence objects: numbers handed out by a SELECT alone (no table write), options
    // changed by ALTER, a table default drawing from one, and setval on a serial's own.
    client
        .batch_execute(
            "CREATE SEQUENCE invoice_no START 1000 INCREMENT BY 10;
             CREATE TABLE invoices (no bigint NOT NULL, v text);
             ALTER SEQUENCE invoice_no OWNED BY invoices.no;
             ALTER TABLE invoices ALTER COLUMN no SET DEFAULT nextval('invoice_no'::regclass);
             INSERT INTO invoices (v) VALUES ('a');
             SELECT setval('numbered_id_seq', 100);",
        )
        .await?;
    assert_eq!(rows(&client, "SELECT nextval('invoice_no')").await?, vec![row(&["1010"])]);
    client.batch_execute("ALTER SEQUENCE invoice_no INCREMENT BY 100").await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    client.batch_execute("INSERT INTO invoices (v) VALUES ('b'); INSERT INTO numbered (v) VALUES (6)").await?;
    assert_eq!(
        rows(&client, "SELECT no, v FROM invoices ORDER BY no").await?,
        vec![row(&["1000", "a"]), row(&["1110", "b"])]
    );
    assert_eq!(rows(&client, "SELECT max(id) FROM numbered").await?, vec![row(&["101"])]);
    assert_eq!(rows(&client, "SELECT last_value, is_called FROM invoice_no").await?, vec![row(&["1110", "t"])]);
    // The sequence goes with the table that owns it.
    client.batch_execute("DROP TABLE invoices").await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    let err = client.query("SELECT nextval('invoice_no')", &[]).await.expect_err("dropped with its table");
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42P01"));

    // A foreign key added (as pg_dump does) from a table to one created after it is
    // restored after both, and still enforced; one dropped stays dropped.
    client
        .batch_execute(
            "CREATE TABLE line (id int, order_id int);
             CREATE TABLE orders (id int PRIMARY KEY);
             INSERT INTO orders VALUES (1); INSERT INTO line VALUES (1, 1);
             ALTER TABLE ONLY line ADD CONSTRAINT line_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders(id);
             CREATE TABLE note (order_id int REFERENCES orders);
             ALTER TABLE note DROP CONSTRAINT note_order_id_fkey;
             CREATE TABLE item (order_id int REFERENCES orders ON DELETE CASCADE);",
        )
        .await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    let err = client.batch_execute("INSERT INTO line VALUES (2, 7)").await.expect_err("no order 7");
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("23503"));
    let err = client.batch_execute("DELETE FROM orders").await.expect_err("order 1 is referenced");
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("23503"));
    client.batch_execute("INSERT INTO note VALUES (7)").await?;
    client
        .batch_execute(
            "INSERT INTO orders VALUES (2); INSERT INTO item VALUES (2), (2); DELETE FROM orders WHERE id = 2",
        )
        .await?;
    assert_eq!(rows(&client, "SELECT count(*) FROM item").await?, vec![row(&["0"])]);
    Ok(())
}

/// Right after a restart, while stored rows are still loading, a view is read from its
/// stored output only if that includes every acknowledged write to its tables; a view
/// whose output is current is read from it at once.
#[tokio::test(flavor = "multi_thread")]
async fn views_read_while_loading_never_miss_an_acknowledged_write() -> anyhow::Result<()> {
    let mut server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(
            "CREATE TABLE big (x bigint); INSERT INTO big SELECT g FROM generate_series(1, 400000) g;
             CREATE TABLE t (x int); CREATE MATERIALIZED VIEW sum_t AS SELECT count(*) AS n, sum(x) AS s FROM t;
             CREATE TABLE u (x int); CREATE MATERIALIZED VIEW sum_u AS SELECT count(*) AS n, sum(x) AS s FROM u;
             INSERT INTO t VALUES (1); INSERT INTO u VALUES (10);",
        )
        .await?;
    // sum_u's output is stored again within half a second; sum_t's second write comes
    // before its output is stored again, and then eddy is killed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.batch_execute("INSERT INTO t VALUES (2)").await?;
    client.batch_execute("INSERT INTO t VALUES (3)").await?;
    server.kill();
    server.restart()?;
    let client = server.connect().await?;
    assert_eq!(rows(&client, "SELECT n, s FROM sum_u").await?, vec![row(&["1", "10"])]);
    assert_eq!(rows(&client, "SELECT n, s FROM sum_t").await?, vec![row(&["3", "6"])]);
    // A COPY into a table still loading waits for it, then lands on top of it.
    let sink = client.copy_in("COPY big FROM STDIN").await?;
    futures::pin_mut!(sink);
    futures::SinkExt::send(&mut sink, bytes::Bytes::from_static(b"400001\n")).await?;
    sink.finish().await?;
    assert_eq!(rows(&client, "SELECT count(*), max(x) FROM big").await?, vec![row(&["400001", "400001"])]);
    Ok(())
}

/// Kafka messages and INSERTs while eddy is SIGKILLed at random points several times:
/// afterwards every view equals the oracle exactly.
#[tokio::test(flavor = "multi_thread")]
async fn crash_loop_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    const PARTITIONS: i32 = 3;
    const ROUNDS: usize = 4;
    const PER_ROUND: usize = 1500;
    let seed = seed();
    eprintln!("crash loop seed {seed} (EDDY_CRASH_SEED={seed} repeats it)");
    let mut rng = Lcg(seed);
    let broker = KafkaBroker::start()?;
    broker.create_topic("events", PARTITIONS)?;
    broker.create_topic("profiles", PARTITIONS)?;
    let mut server = EddyProcess::start(2)?;
    let client = server.connect().await?;
    client
        .batch_execute(&format!(
            "CREATE CONNECTION kafka TO KAFKA (BROKER '{}');
             CREATE SOURCE events (id bigint, amount bigint)
               FROM KAFKA CONNECTION kafka (TOPIC 'events', TICK INTERVAL '20ms') FORMAT JSON;
             CREATE SOURCE profiles (name text, score bigint)
               FROM KAFKA CONNECTION kafka (TOPIC 'profiles', TICK INTERVAL '20ms')
               KEY FORMAT TEXT VALUE FORMAT JSON ENVELOPE UPSERT;
             CREATE TABLE manual (id bigint PRIMARY KEY, v bigint);
             CREATE MATERIALIZED VIEW event_totals AS
               SELECT count(*) AS n, count(DISTINCT id) AS ids, sum(amount) AS total FROM events;
             CREATE MATERIALIZED VIEW profile_totals AS SELECT count(*) AS n, sum(score) AS total FROM profiles;
             CREATE MATERIALIZED VIEW manual_totals AS SELECT count(*) AS n, sum(v) AS total FROM manual;",
            broker.address()
        ))
        .await?;

    let mut produced_events = 0usize;
    let mut profiles: BTreeMap<String, i64> = BTreeMap::new();
    let mut acked: Vec<i64> = Vec::new();
    let mut maybe: Vec<i64> = Vec::new();
    let mut next_manual = 0i64;
    for round in 0..ROUNDS {
        // Messages for this round, produced while eddy runs and is then killed.
        let events: Vec<String> = (0..PER_ROUND)
            .map(|i| {
                let id = produced_events + i;
                format!(r#"{{"id": {id}, "amount": {}}}"#, id % 97)
            })
            .collect();
        let mut profile_msgs: Vec<(String, Option<String>)> = Vec::new();
        for i in 0..PER_ROUND / 3 {
            let name = format!("p{}", rng.below(200));
            if i % 10 == 9 {
                profiles.remove(&name);
                profile_msgs.push((name, None));
            } else {
                let score = (round * 1000 + i) as i64;
                profiles.insert(name.clone(), score);
                profile_msgs.push((name, Some(format!(r#"{{"score": {score}}}"#))));
            }
        }
        produced_events += PER_ROUND;
        let producer = {
            let address = broker.address();
            std::thread::spawn(move || -> anyhow::Result<()> {
                for chunk in events.chunks(100) {
                    let records: Vec<Record> = chunk
                        .iter()
                        .enumerate()
                        .map(|(i, v)| Record {
                            key: None,
                            value: Some(v.as_bytes()),
                            partition: Some(i as i32 % PARTITIONS),
                        })
                        .collect();
                    eddy_tests::kafka::produce(&address, "events", &records)?;
                }
                let records: Vec<Record> = profile_msgs
                    .iter()
                    .map(|(k, v)| Record {
                        key: Some(k.as_bytes()),
                        value: v.as_deref().map(str::as_bytes),
                        partition: None,
                    })
                    .collect();
                eddy_tests::kafka::produce(&address, "profiles", &records)?;
                Ok(())
            })
        };
        // INSERTs until the kill: those acknowledged must survive; the one in flight may
        // or may not.
        let kill_after = Duration::from_millis(300 + rng.below(1500));
        let started = Instant::now();
        let client = server.connect().await?;
        while started.elapsed() < kill_after {
            let id = next_manual;
            next_manual += 1;
            client.batch_execute(&format!("INSERT INTO manual VALUES ({id}, {})", id * 3)).await?;
            acked.push(id);
        }
        let in_flight = next_manual;
        next_manual += 1;
        let pending = tokio::spawn(async move {
            let _ = client.batch_execute(&format!("INSERT INTO manual VALUES ({in_flight}, {})", in_flight * 3)).await;
        });
        server.kill();
        let _ = pending.await;
        maybe.push(in_flight);
        producer.join().map_err(|_| anyhow::anyhow!("producer panicked"))??;
        server.restart()?;
    }

    let in_topic: i64 = broker.high_watermarks("events", PARTITIONS)?.iter().sum();
    assert_eq!(in_topic, produced_events as i64, "the broker holds each message once");
    let client = server.connect().await?;
    let total: i64 = (0..produced_events as i64).map(|id| id % 97).sum();
    let expected = vec![row(&[&produced_events.to_string(), &produced_events.to_string(), &total.to_string()])];
    let got = wait_for(&client, "SELECT n, ids, total FROM event_totals", &expected).await?;
    assert_eq!(got, expected, "every Kafka message counted exactly once (seed {seed})");
    let expected_profiles = vec![row(&[&profiles.len().to_string(), &profiles.values().sum::<i64>().to_string()])];
    let got = wait_for(&client, "SELECT n, total FROM profile_totals", &expected_profiles).await?;
    assert_eq!(got, expected_profiles, "UPSERT state equals the last value per key (seed {seed})");
    let stored: Vec<i64> = rows(&client, "SELECT id FROM manual ORDER BY id")
        .await?
        .into_iter()
        .filter_map(|r| r[0].as_ref().and_then(|v| v.parse().ok()))
        .collect();
    for id in &acked {
        assert!(stored.binary_search(id).is_ok(), "acknowledged INSERT {id} was lost (seed {seed})");
    }
    for id in &stored {
        assert!(acked.contains(id) || maybe.contains(id), "row {id} was never written (seed {seed})");
    }
    let sum: i64 = stored.iter().map(|id| id * 3).sum();
    assert_eq!(
        rows(&client, "SELECT n, total FROM manual_totals").await?,
        vec![row(&[&stored.len().to_string(), &sum.to_string()])]
    );
    Ok(())
}

/// Runs `eddy` on `data_dir` expecting it to refuse to start; returns what it printed.
fn refused_start(data_dir: &Path) -> anyhow::Result<String> {
    let port = free_port()?;
    let mut child = Command::new(eddy_binary())
        .args(["--listen", &format!("127.0.0.1:{port}"), "--workers", "1", "--data-dir"])
        .arg(data_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().expect("piped"), &mut err)?;
            assert!(!status.success(), "eddy should have refused {}: {err}", data_dir.display());
            return Ok(err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            anyhow::bail!("eddy started on a data directory it should refuse: {}", data_dir.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn locked_newer_and_corrupt_data_dirs_are_refused_and_left_alone() -> anyhow::Result<()> {
    let mut server = EddyProcess::start(1)?;
    let client = server.connect().await?;
    client.batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2);").await?;
    let dir = server.data_dir();

    let err = refused_start(&dir)?;
    assert!(err.contains("in use by another eddy process"), "{err}");
    assert!(err.contains(&format!("pid {}", server.pid())), "names the holder: {err}");
    assert_eq!(rows(&client, "SELECT count(*) FROM t").await?, vec![row(&["2"])], "the first one keeps serving");

    server.kill();
    let format = dir.join("EDDY_FORMAT");
    let original = std::fs::read(&format)?;
    std::fs::write(&format, "eddy data format 999\n")?;
    let err = refused_start(&dir)?;
    assert!(err.contains("written by a newer eddy (data format 999"), "{err}");
    assert_eq!(std::fs::read_to_string(&format)?, "eddy data format 999\n", "left as it was");
    std::fs::write(&format, &original)?;

    // Flip bytes in the middle of the MANIFEST: RocksDB's checksums catch it.
    let manifest = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("MANIFEST-")))
        .ok_or_else(|| anyhow::anyhow!("no MANIFEST in {}", dir.display()))?;
    let mut bytes = std::fs::read(&manifest)?;
    let damaged = bytes.clone();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 8] {
        *b ^= 0x5a;
    }
    std::fs::write(&manifest, &bytes)?;
    let err = refused_start(&dir)?;
    assert!(err.contains("is corrupt"), "{err}");
    assert!(err.contains("will not modify it"), "{err}");
    assert_eq!(std::fs::read(&manifest)?, bytes, "the corrupt file is left as it was");
    std::fs::write(&manifest, damaged)?;
    server.restart()?;
    let client = server.connect().await?;
    assert_eq!(rows(&client, "SELECT count(*) FROM t").await?, vec![row(&["2"])], "repaired, it starts again");
    Ok(())
}

/// Bytes flipped in a table's stored rows (an SST file): the restart refuses the data
/// directory, or reads of that table fail with the corruption instead of showing part of
/// it.
#[tokio::test(flavor = "multi_thread")]
async fn corrupt_rows_are_reported_not_served() -> anyhow::Result<()> {
    let mut server = EddyProcess::start(1)?;
    let client = server.connect().await?;
    // More than a memtable (16 MiB), so that RocksDB writes it to an SST file.
    client
        .batch_execute(
            "CREATE TABLE wide (id int, pad text);
             INSERT INTO wide SELECT g, repeat('x', 200) FROM generate_series(1, 150000) g;
             CREATE TABLE small (x int); INSERT INTO small VALUES (1);",
        )
        .await?;
    let dir = server.data_dir();
    let sst_files = || -> u64 {
        std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "sst")).count())
            .unwrap_or(0) as u64
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while sst_files() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the flush that wrote it finish.
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.kill();
    let sst = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sst"))
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .ok_or_else(|| anyhow::anyhow!("no SST file in {}", dir.display()))?;
    let mut bytes = std::fs::read(&sst)?;
    let middle = bytes.len() / 3;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0xa5;
    }
    std::fs::write(&sst, &bytes)?;
    // RocksDB may see it when it opens the file at startup (then eddy refuses to start),
    // or only when the rows are read.
    if let Err(e) = server.restart() {
        let message = e.to_string();
        assert!(message.contains("is corrupt") && message.contains("will not modify it"), "{message}");
        assert_eq!(std::fs::read(&sst)?, bytes, "the corrupt file is left as it was");
        eprintln!("corruption found when RocksDB opened the file: eddy refused to start");
        return Ok(());
    }
    eprintln!("corruption found when the rows were read");
    let client = server.connect().await?;
    let err = client.simple_query("SELECT count(*) FROM wide").await.unwrap_err();
    let db = err.as_db_error().ok_or_else(|| anyhow::anyhow!("not a server error: {err}"))?;
    assert_eq!(db.code().code(), "XX001", "{db:?}");
    assert!(db.message().contains("could not be loaded") && db.message().contains("corrupt"), "{}", db.message());
    Ok(())
}

/// A data directory on a small tmpfs that fills up: the write fails with SQLSTATE 53100,
/// the server keeps serving, and acknowledged rows stay. Needs root (mount); says so and
/// does nothing where the machine does not allow it.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_write_not_the_server() -> anyhow::Result<()> {
    let mount = std::env::temp_dir().join(format!("eddy-full-{}", std::process::id()));
    std::fs::create_dir_all(&mount)?;
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=160m", "tmpfs"]).arg(&mount).status();
    if !mounted.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root); the disk-full path is untested in this run");
        return Ok(());
    }
    let result = full_disk(&mount).await;
    let _ = Command::new("umount").arg(&mount).status();
    let _ = std::fs::remove_dir(&mount);
    result
}

async fn full_disk(mount: &Path) -> anyhow::Result<()> {
    let data = mount.join("data").to_string_lossy().into_owned();
    let server = EddyProcess::start_custom(&eddy_binary(), 1, &[], &["--data-dir".into(), data])?;
    let client = server.connect().await?;
    client.batch_execute("CREATE TABLE t (id int, pad text); INSERT INTO t VALUES (1, 'a'), (2, 'b');").await?;
    // Fill the device, leaving nothing for the WAL.
    let filler = mount.join("filler");
    let _ = Command::new("dd").arg("if=/dev/zero").arg(format!("of={}", filler.display())).args(["bs=1M"]).output();
    let big = "x".repeat(200_000);
    let mut failure = None;
    for i in 0..50 {
        if let Err(e) = client.batch_execute(&format!("INSERT INTO t VALUES ({}, '{big}')", 100 + i)).await {
            failure = Some((100 + i, e));
            break;
        }
    }
    let (failed_id, e) = failure.ok_or_else(|| anyhow::anyhow!("no write failed on a full disk"))?;
    assert_eq!(e.code().map(|c| c.code()), Some("53100"), "{e:?}");
    let message = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_default();
    assert!(message.contains("no space left"), "{message}");
    // Still serving; the failed write is not visible (only acknowledged ones are).
    let failed = rows(&client, &format!("SELECT count(*) FROM t WHERE id = {failed_id}")).await?;
    assert_eq!(failed, vec![row(&["0"])], "the refused INSERT was undone in memory too");
    let before: Vec<Vec<Option<String>>> = rows(&client, "SELECT count(*) FROM t").await?;
    let other = server.connect().await?;
    assert_eq!(rows(&other, "SELECT 1 + 1").await?, vec![row(&["2"])], "new sessions are served");
    // Space freed: writes work again, and nothing acknowledged was lost.
    std::fs::remove_file(&filler)?;
    client.batch_execute("INSERT INTO t VALUES (3, 'c')").await?;
    let after = rows(&client, "SELECT count(*) FROM t").await?;
    let n: i64 = before[0][0].as_deref().unwrap_or("0").parse()?;
    assert_eq!(after, vec![row(&[&(n + 1).to_string()])]);
    assert_eq!(rows(&client, "SELECT count(*) FROM t WHERE id < 100").await?, vec![row(&["3"])]);
    Ok(())
}
