//! Eddy's own DDL, which PostgreSQL lacks: `CREATE SECRET`, `CREATE CONNECTION ... TO
//! KAFKA`, `CREATE SOURCE ... FROM KAFKA | LOAD GENERATOR`, their DROPs and SHOWs, in
//! Materialize's spelling. Parsed with sqlparser's tokenizer and parser primitives, and
//! planned in the same step: none of it needs the catalog (names are resolved and
//! checked by the coordinator).

use std::time::Duration;

use eddy_repr::source::{
    AvroFormat, Envelope, Format, Include, IncludeKind, KafkaConnection, KafkaSourceSpec, LoadGenerator,
    LoadGeneratorSpec, SchemaRegistry, SourceSpec, StartOffset,
};
use eddy_repr::{strconv, ColumnType, RelationDesc, ScalarType};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use crate::types::parse_type_name;
use crate::{ItemKind, Plan, PlanError, RenameTarget, ShowKind};

/// How often a source hands on a batch unless `TICK INTERVAL` says otherwise.
const DEFAULT_TICK: Duration = Duration::from_millis(20);
const DEFAULT_GENERATOR_TICK: Duration = Duration::from_secs(1);
const DEFAULT_NEXMARK_RATE: u64 = 1000;

/// A `CREATE CONNECTION` before secrets are looked up.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionPlan {
    /// Everything but secrets.
    pub target: ConnectionTarget,
    /// Setting (a librdkafka setting; `password` for a registry) -> name of the secret
    /// holding its value.
    pub secret_refs: Vec<(String, String)>,
}

/// What a connection reaches.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectionTarget {
    /// `TO KAFKA`, as librdkafka settings.
    Kafka(KafkaConnection),
    /// `TO CONFLUENT SCHEMA REGISTRY`.
    SchemaRegistry(SchemaRegistry),
}

impl ConnectionTarget {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectionTarget::Kafka(_) => "kafka",
            ConnectionTarget::SchemaRegistry(_) => "schema registry",
        }
    }
}

/// `SUBSCRIBE [TO] name | (query) [WITH (SNAPSHOT [=] bool, PROGRESS [=] bool)]`.
#[derive(Clone, Debug)]
pub struct SubscribeStatement {
    pub target: SubscribeTarget,
    pub snapshot: bool,
    pub progress: bool,
}

#[derive(Clone, Debug)]
pub enum SubscribeTarget {
    Name(String),
    Query(Box<sqlparser::ast::Query>),
}

/// True at `ALTER DYNAMIC TABLE` or `ALTER MATERIALIZED VIEW`.
pub fn starts_alter_refresh(parser: &Parser) -> bool {
    let is_word = |n: usize, w: &str| matches!(parser.peek_nth_token(n).token, Token::Word(ref x) if x.value.eq_ignore_ascii_case(w));
    is_word(0, "ALTER")
        && ((is_word(1, "DYNAMIC") && is_word(2, "TABLE")) || (is_word(1, "MATERIALIZED") && is_word(2, "VIEW")))
}

/// What `ALTER DYNAMIC TABLE` changes about a view's refreshes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshAction {
    SetTargetLag(crate::Lag),
    Suspend,
    Resume,
    Refresh,
}

/// `ALTER DYNAMIC TABLE | MATERIALIZED VIEW name SET TARGET_LAG = '...' | SET (TARGET_LAG =
/// '...') | SUSPEND | RESUME | REFRESH`.
pub fn parse_alter_refresh(parser: &mut Parser) -> Result<Plan, PlanError> {
    let p = &mut Ddl { parser };
    p.expect_word("ALTER")?;
    if p.word("DYNAMIC") {
        p.expect_word("TABLE")?;
    } else {
        p.expect_word("MATERIALIZED")?;
        p.expect_word("VIEW")?;
    }
    let if_exists = p.parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let name = p.object_name()?;
    if p.word("RENAME") {
        return p.rename_to(RenameTarget::Relation(ItemKind::MaterializedView), name, if_exists);
    }
    let action = if p.word("SUSPEND") {
        RefreshAction::Suspend
    } else if p.word("RESUME") {
        RefreshAction::Resume
    } else if p.word("REFRESH") {
        RefreshAction::Refresh
    } else {
        p.expect_word("SET")?;
        let parenthesized = p.parser.consume_token(&Token::LParen);
        p.expect_word("TARGET_LAG")?;
        let _ = p.parser.consume_token(&Token::Eq);
        let value = match p.parser.next_token().token {
            Token::SingleQuotedString(s) => s,
            Token::Word(w) => w.value,
            other => return Err(PlanError::Syntax(format!("expected a TARGET_LAG value, found {other}"))),
        };
        if parenthesized {
            p.parser.expect_token(&Token::RParen).map_err(syntax)?;
        }
        RefreshAction::SetTargetLag(target_lag(&value)?)
    };
    Ok(Plan::AlterRefresh { name, action, if_exists })
}

/// True at `CREATE [OR REPLACE] DYNAMIC TABLE`.
pub fn starts_dynamic_table(parser: &Parser) -> bool {
    let is_word = |n: usize, w: &str| matches!(parser.peek_nth_token(n).token, Token::Word(ref x) if x.value.eq_ignore_ascii_case(w));
    is_word(0, "CREATE")
        && ((is_word(1, "DYNAMIC") && is_word(2, "TABLE")) || (is_word(1, "OR") && is_word(3, "DYNAMIC")))
}

/// Snowflake's `CREATE [OR REPLACE] DYNAMIC TABLE [IF NOT EXISTS] name TARGET_LAG =
/// '...' | DOWNSTREAM [REFRESH_MODE = INCREMENTAL | FULL | AUTO] [INITIALIZE = ON_CREATE |
/// ON_SCHEDULE] [WAREHOUSE = w] AS query`, as the materialized view it is: returns that
/// statement's text (marked `DYNAMIC_TABLE = true` so that SHOW CREATE gives the dynamic
/// table back), with `query_text` giving the text of the query the parser consumed.
pub fn rewrite_dynamic_table(
    parser: &mut Parser,
    query_text: impl Fn(sqlparser::tokenizer::Location, sqlparser::tokenizer::Location) -> String,
) -> Result<String, PlanError> {
    let p = &mut Ddl { parser };
    p.expect_word("CREATE")?;
    let or_replace = p.word("OR");
    if or_replace {
        p.expect_word("REPLACE")?;
    }
    p.expect_word("DYNAMIC")?;
    p.expect_word("TABLE")?;
    let if_not_exists = p.if_not_exists();
    let name = p.name()?;
    let mut options = Vec::new();
    let mut has_lag = false;
    loop {
        let option = ["TARGET_LAG", "REFRESH_MODE", "INITIALIZE", "WAREHOUSE"].into_iter().find(|o| p.word(o));
        let Some(option) = option else { break };
        let _ = p.parser.consume_token(&Token::Eq);
        let value = match p.parser.next_token().token {
            Token::SingleQuotedString(s) => s,
            Token::Word(w) => w.value,
            other => return Err(PlanError::Syntax(format!("expected a value for {option}, found {other}"))),
        };
        match option {
            "TARGET_LAG" => {
                target_lag(&value)?;
                has_lag = true;
            }
            "REFRESH_MODE" => {
                refresh_mode(&value)?;
            }
            "WAREHOUSE" => continue, // Snowflake's compute pool; Eddy has one.
            _ => {}
        }
        options.push(format!("{option} = '{}'", value.replace('\'', "''")));
    }
    if !has_lag {
        return Err(PlanError::InvalidParameter(
            "a dynamic table needs TARGET_LAG = '...' (an interval, or DOWNSTREAM)".into(),
        ));
    }
    options.push("DYNAMIC_TABLE = true".into());
    p.expect_word("AS")?;
    let start = p.parser.peek_token().span.start;
    p.parser.parse_query().map_err(syntax)?;
    p.parser.prev_token();
    let end = p.parser.next_token().span.end;
    Ok(format!(
        "CREATE {}MATERIALIZED VIEW {}{name} WITH ({}) AS {}",
        if or_replace { "OR REPLACE " } else { "" },
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        options.join(", "),
        query_text(start, end)
    ))
}

/// The CREATE statement SHOW CREATE gives for a view with a target lag: `REFRESH_MODE =
/// AUTO` resolved to the mode it chose, and the lag as it is now (ALTER changes it).
pub fn view_with_target_lag_sql(
    name: &str,
    columns: &[String],
    target: &crate::TargetLag,
    dynamic_table: bool,
    query: &str,
) -> String {
    let lag = match target.lag {
        crate::Lag::Downstream => "DOWNSTREAM".to_string(),
        every => format!("'{}'", every.to_sql()),
    };
    let initialize = if target.on_create { "ON_CREATE" } else { "ON_SCHEDULE" };
    let mode = target.mode.as_str();
    if dynamic_table {
        format!(
            "CREATE DYNAMIC TABLE {name} TARGET_LAG = {lag} REFRESH_MODE = {mode} INITIALIZE = {initialize} AS {query}"
        )
    } else {
        let columns = if columns.is_empty() { String::new() } else { format!(" ({})", columns.join(", ")) };
        format!(
            "CREATE MATERIALIZED VIEW {name}{columns} WITH (TARGET_LAG = {lag}, REFRESH_MODE = '{mode}', \
             INITIALIZE = '{initialize}') AS {query}"
        )
    }
}

/// A `REFRESH_MODE` value; `AUTO` picks incremental maintenance, which every query Eddy
/// accepts supports (as Snowflake's AUTO does when it can).
pub fn refresh_mode(text: &str) -> Result<crate::RefreshMode, PlanError> {
    match text.to_ascii_uppercase().as_str() {
        "INCREMENTAL" | "AUTO" => Ok(crate::RefreshMode::Incremental),
        "FULL" => Ok(crate::RefreshMode::Full),
        _ => Err(PlanError::InvalidParameter(format!("REFRESH_MODE must be INCREMENTAL, FULL or AUTO, not {text}"))),
    }
}

/// True at `DECLARE name CURSOR ... FOR SUBSCRIBE | query`, `FETCH` or `CLOSE`: cursors,
/// which the server keeps per session.
pub fn starts_cursor(parser: &Parser) -> bool {
    let word = |n: usize| match parser.peek_nth_token(n).token {
        Token::Word(w) => w.value.to_ascii_uppercase(),
        _ => String::new(),
    };
    matches!(word(0).as_str(), "DECLARE" | "FETCH" | "CLOSE")
}

/// What a cursor reads.
#[derive(Clone, Debug)]
pub enum CursorBody {
    /// `SUBSCRIBE ...`: changes as they happen.
    Subscribe(SubscribeStatement),
    /// A query: its rows at DECLARE, handed out by FETCH.
    Query(Box<sqlparser::ast::Query>),
}

/// A cursor statement.
#[derive(Clone, Debug)]
pub enum CursorStatement {
    Declare {
        name: String,
        body: CursorBody,
    },
    /// `FETCH [FORWARD] [ALL | n] [FROM | IN] name [WITH (TIMEOUT = 'interval')]`:
    /// `count` None is ALL; without a timeout FETCH waits for at least one row.
    Fetch {
        name: String,
        count: Option<u64>,
        timeout: Option<Duration>,
    },
    Close {
        name: String,
    },
}

pub fn parse_cursor(parser: &mut Parser) -> Result<CursorStatement, PlanError> {
    let p = &mut Ddl { parser };
    if p.word("CLOSE") {
        return Ok(CursorStatement::Close { name: p.name()? });
    }
    if p.word("DECLARE") {
        let name = p.name()?;
        while !p.word("CURSOR") {
            // BINARY, INSENSITIVE, [NO] SCROLL: accepted; cursors only move forward.
            if p.parser.next_token().token == Token::EOF {
                return Err(PlanError::Syntax("expected CURSOR".into()));
            }
        }
        if p.word("WITHOUT") || p.word("WITH") {
            p.expect_word("HOLD")?;
        }
        p.expect_word("FOR")?;
        let body = if starts_subscribe(p.parser) {
            CursorBody::Subscribe(parse_subscribe(p.parser)?)
        } else {
            CursorBody::Query(p.parser.parse_query().map_err(syntax)?)
        };
        return Ok(CursorStatement::Declare { name, body });
    }
    p.expect_word("FETCH")?;
    p.word("FORWARD");
    let count = if p.word("ALL") {
        None
    } else if let Token::Number(..) = p.parser.peek_token().token {
        Some(p.parser.parse_literal_uint().map_err(syntax)?)
    } else {
        let _ = p.word("NEXT");
        Some(1)
    };
    if !p.word("FROM") {
        p.word("IN");
    }
    let name = p.name()?;
    let mut timeout = None;
    if p.word("WITH") {
        p.parser.expect_token(&Token::LParen).map_err(syntax)?;
        p.expect_word("TIMEOUT")?;
        let _ = p.parser.consume_token(&Token::Eq);
        let text = p.string()?;
        let iv = strconv::parse_interval(&text).map_err(|e| PlanError::InvalidParameter(format!("TIMEOUT: {e}")))?;
        let micros = (iv.micros as i128 + (iv.days as i128 + iv.months as i128 * 30) * 86_400_000_000).max(0);
        timeout = Some(Duration::from_micros(micros.min(u64::MAX as i128) as u64));
        p.parser.expect_token(&Token::RParen).map_err(syntax)?;
    }
    Ok(CursorStatement::Fetch { name, count, timeout })
}

/// True at `SUBSCRIBE` or `COPY (SUBSCRIBE`.
pub fn starts_subscribe(parser: &Parser) -> bool {
    let is_word = |n: usize, w: &str| matches!(parser.peek_nth_token(n).token, Token::Word(ref x) if x.value.eq_ignore_ascii_case(w));
    is_word(0, "SUBSCRIBE")
        || (is_word(0, "COPY") && parser.peek_nth_token(1).token == Token::LParen && is_word(2, "SUBSCRIBE"))
}

/// Parses `SUBSCRIBE ...` or `COPY (SUBSCRIBE ...) TO STDOUT`.
pub fn parse_subscribe(parser: &mut Parser) -> Result<SubscribeStatement, PlanError> {
    let p = &mut Ddl { parser };
    let copy = p.word("COPY");
    if copy {
        p.parser.expect_token(&Token::LParen).map_err(syntax)?;
    }
    p.expect_word("SUBSCRIBE")?;
    p.word("TO");
    let target = if p.parser.peek_token().token == Token::LParen {
        p.parser.next_token();
        let query = p.parser.parse_query().map_err(syntax)?;
        p.parser.expect_token(&Token::RParen).map_err(syntax)?;
        SubscribeTarget::Query(query)
    } else {
        SubscribeTarget::Name(p.name()?)
    };
    let mut stmt = SubscribeStatement { target, snapshot: true, progress: false };
    if p.word("WITH") {
        p.parser.expect_token(&Token::LParen).map_err(syntax)?;
        loop {
            let option = match p.choose("unknown SUBSCRIBE option", &[("SNAPSHOT", true), ("PROGRESS", false)])? {
                true => &mut stmt.snapshot,
                false => &mut stmt.progress,
            };
            let _ = p.parser.consume_token(&Token::Eq);
            *option = if p.word("TRUE") || p.word("ON") {
                true
            } else if p.word("FALSE") || p.word("OFF") {
                false
            } else if matches!(p.parser.peek_token().token, Token::Comma | Token::RParen) {
                true
            } else {
                let found = p.parser.peek_token();
                return Err(PlanError::Syntax(format!("expected true or false, found {found}")));
            };
            if !p.parser.consume_token(&Token::Comma) {
                p.parser.expect_token(&Token::RParen).map_err(syntax)?;
                break;
            }
        }
    }
    if copy {
        p.parser.expect_token(&Token::RParen).map_err(syntax)?;
        p.expect_word("TO")?;
        p.expect_word("STDOUT")?;
    }
    Ok(stmt)
}

/// True if the parser stands at a statement this module parses.
pub fn starts_here(parser: &Parser) -> bool {
    let word = |n: usize| match parser.peek_nth_token(n).token {
        Token::Word(w) => w.value.to_ascii_uppercase(),
        _ => String::new(),
    };
    let (first, second) = (word(0), word(1));
    if first == "SHOW" && second == "CREATE" {
        return matches!(word(2).as_str(), "SOURCE" | "CONNECTION" | "MATERIALIZED" | "DYNAMIC");
    }
    matches!(
        (first.as_str(), second.as_str()),
        ("CREATE", "SOURCE" | "CONNECTION" | "SECRET")
            | ("DROP", "SOURCE" | "CONNECTION" | "SECRET" | "DYNAMIC")
            | ("ALTER", "SEQUENCE" | "VIEW" | "INDEX")
    ) || (first == "SHOW" && matches!(second.as_str(), "CONNECTIONS" | "SECRETS"))
        || (first == "SHOW" && second == "DYNAMIC" && word(2) == "TABLES")
}

/// Parses and plans the statement at the parser. CREATE statements' `create_sql` is left
/// empty for the caller, which has the text, to fill in.
pub fn parse(parser: &mut Parser) -> Result<Plan, PlanError> {
    let p = &mut Ddl { parser };
    if p.word("ALTER") {
        let target = if p.word("VIEW") {
            RenameTarget::Relation(ItemKind::View)
        } else if p.word("INDEX") {
            RenameTarget::Index
        } else {
            p.expect_word("SEQUENCE")?;
            return p.alter_sequence();
        };
        let if_exists = p.parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = p.object_name()?;
        if !p.word("RENAME") {
            let what = if target == RenameTarget::Index { "ALTER INDEX" } else { "ALTER VIEW" };
            return Err(PlanError::Unsupported(format!("{what} other than RENAME TO")));
        }
        return p.rename_to(target, name, if_exists);
    }
    if p.word("SHOW") {
        if p.word("CREATE") {
            let kind = if p.word("SOURCE") {
                "source"
            } else if p.word("MATERIALIZED") {
                p.expect_word("VIEW")?;
                "materialized view"
            } else if p.word("DYNAMIC") {
                p.expect_word("TABLE")?;
                "dynamic table"
            } else {
                p.expect_word("CONNECTION")?;
                "connection"
            };
            return Ok(Plan::Show(ShowKind::CreateNamed { kind, name: p.name()? }));
        }
        return if p.word("CONNECTIONS") {
            Ok(Plan::Show(ShowKind::Connections))
        } else if p.word("DYNAMIC") {
            p.expect_word("TABLES")?;
            Ok(Plan::Show(ShowKind::DynamicTables))
        } else {
            p.expect_word("SECRETS")?;
            Ok(Plan::Show(ShowKind::Secrets))
        };
    }
    if p.word("DROP") {
        return p.drop();
    }
    p.expect_word("CREATE")?;
    if p.word("SECRET") {
        let if_not_exists = p.if_not_exists();
        let name = p.name()?;
        p.expect_word("AS")?;
        let value = p.string()?;
        return Ok(Plan::CreateSecret { name, value, if_not_exists });
    }
    if p.word("CONNECTION") {
        let if_not_exists = p.if_not_exists();
        let name = p.name()?;
        p.expect_word("TO")?;
        let connection = if p.word("CONFLUENT") {
            p.expect_word("SCHEMA")?;
            p.expect_word("REGISTRY")?;
            p.registry_connection()?
        } else {
            p.expect_word("KAFKA")?;
            p.kafka_connection()?
        };
        return Ok(Plan::CreateConnection { name, connection, if_not_exists, create_sql: String::new() });
    }
    p.expect_word("SOURCE")?;
    let if_not_exists = p.if_not_exists();
    let name = p.name()?;
    let columns = if p.parser.consume_token(&Token::LParen) { p.columns()? } else { vec![] };
    p.expect_word("FROM")?;
    if p.word("LOAD") {
        p.expect_word("GENERATOR")?;
        if !columns.is_empty() {
            return Err(PlanError::Syntax("a load generator's columns are fixed; declare none".into()));
        }
        let spec = p.load_generator()?;
        return Ok(Plan::CreateSource {
            name,
            spec: SourceSpec::LoadGenerator(spec),
            desc: RelationDesc::new(vec![]),
            connection: None,
            if_not_exists,
            create_sql: String::new(),
        });
    }
    p.expect_word("KAFKA")?;
    p.expect_word("CONNECTION")?;
    let connection = p.name()?;
    let (spec, desc) = p.kafka_source(columns)?;
    Ok(Plan::CreateSource {
        name,
        spec: SourceSpec::Kafka(spec),
        desc,
        connection: Some(connection),
        if_not_exists,
        create_sql: String::new(),
    })
}

/// What DROP removes besides relations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtherObjectKind {
    Connection,
    Secret,
}

impl OtherObjectKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            OtherObjectKind::Connection => "connection",
            OtherObjectKind::Secret => "secret",
        }
    }
}

/// An option's value: `'text'`, a number, `SECRET name`, or `('a', 'b')`.
#[derive(Clone, Debug, PartialEq)]
enum OptionValue {
    Text(String),
    Number(u64),
    Secret(String),
    List(Vec<String>),
}

impl OptionValue {
    fn describe(&self) -> &'static str {
        match self {
            OptionValue::Text(_) => "a string",
            OptionValue::Number(_) => "a number",
            OptionValue::Secret(_) => "a SECRET",
            OptionValue::List(_) => "a list",
        }
    }
}

struct Ddl<'a, 'b> {
    parser: &'a mut Parser<'b>,
}

impl Ddl<'_, '_> {
    /// Consumes the next token if it is the word `w` (any case).
    fn word(&mut self, w: &str) -> bool {
        match self.parser.peek_token().token {
            Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w) => {
                self.parser.next_token();
                true
            }
            _ => false,
        }
    }

    /// Consumes one of `choices`' words and gives its value; otherwise the error
    /// `{what} {found}: expected A, B or C`.
    fn choose<T: Copy>(&mut self, what: &str, choices: &[(&str, T)]) -> Result<T, PlanError> {
        for (word, value) in choices {
            if self.word(word) {
                return Ok(*value);
            }
        }
        let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
        let expected = match words.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        let found = self.parser.peek_token();
        Err(PlanError::Syntax(format!("{what} {found}: expected {expected}")))
    }

    fn expect_word(&mut self, w: &str) -> Result<(), PlanError> {
        if self.word(w) {
            Ok(())
        } else {
            Err(syntax(self.parser.expected::<()>(w, self.parser.peek_token()).unwrap_err()))
        }
    }

    fn if_not_exists(&mut self) -> bool {
        self.parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS])
    }

    /// After `RENAME`: `TO new_name`.
    fn rename_to(&mut self, target: RenameTarget, name: String, if_exists: bool) -> Result<Plan, PlanError> {
        if !self.word("TO") {
            return Err(PlanError::Unsupported("RENAME other than RENAME TO a new name".into()));
        }
        let ident = self.parser.parse_identifier().map_err(syntax)?;
        Ok(Plan::Rename { target, name, new_name: crate::expr::normalize_ident(&ident), if_exists })
    }

    /// A relation's name, schema-qualified unless in `public`.
    fn object_name(&mut self) -> Result<String, PlanError> {
        let name = self.parser.parse_object_name(false).map_err(syntax)?;
        Ok(crate::statement::strip_public(crate::expr::object_name(&name)))
    }

    fn name(&mut self) -> Result<String, PlanError> {
        let ident = self.parser.parse_identifier().map_err(syntax)?;
        let name = crate::expr::normalize_ident(&ident);
        Ok(name.strip_prefix("public.").map(str::to_string).unwrap_or(name))
    }

    fn string(&mut self) -> Result<String, PlanError> {
        self.parser.parse_literal_string().map_err(syntax)
    }

    fn drop(&mut self) -> Result<Plan, PlanError> {
        // Sources and dynamic tables (materialized views) are relations; the rest are not.
        enum Dropped {
            Relation(crate::ObjectKind),
            Other(OtherObjectKind),
        }
        let dropped = if self.word("SOURCE") {
            Dropped::Relation(crate::ObjectKind::Source)
        } else if self.word("DYNAMIC") {
            self.expect_word("TABLE")?;
            Dropped::Relation(crate::ObjectKind::MaterializedView)
        } else if self.word("CONNECTION") {
            Dropped::Other(OtherObjectKind::Connection)
        } else {
            self.expect_word("SECRET")?;
            Dropped::Other(OtherObjectKind::Secret)
        };
        let if_exists = self.parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let mut names = vec![self.name()?];
        while self.parser.consume_token(&Token::Comma) {
            names.push(self.name()?);
        }
        let cascade = self.word("CASCADE");
        if !cascade {
            self.word("RESTRICT");
        }
        Ok(match dropped {
            Dropped::Relation(kind) => Plan::Drop { kind, names, if_exists, cascade },
            Dropped::Other(kind) => Plan::DropOther { kind, names, if_exists, cascade },
        })
    }

    /// After `ALTER SEQUENCE`: `[IF EXISTS] name` and its options (sqlparser reads none of
    /// this statement). `OWNER TO` is accepted and changes nothing: there are no roles.
    fn alter_sequence(&mut self) -> Result<Plan, PlanError> {
        use crate::sequence::SequenceOption as O;
        let if_exists = self.parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = self.object_name()?;
        let mut options = Vec::new();
        loop {
            let option = if self.word("AS") {
                O::DataType(crate::types::parse_type_name(&self.parser.parse_data_type().map_err(syntax)?.to_string())?)
            } else if self.word("INCREMENT") {
                self.word("BY");
                O::Increment(self.integer()?)
            } else if self.word("MINVALUE") {
                O::MinValue(Some(self.integer()?))
            } else if self.word("MAXVALUE") {
                O::MaxValue(Some(self.integer()?))
            } else if self.word("NO") {
                match self.choose("NO", &[("MINVALUE", 0), ("MAXVALUE", 1), ("CYCLE", 2)])? {
                    0 => O::MinValue(None),
                    1 => O::MaxValue(None),
                    _ => O::Cycle(false),
                }
            } else if self.word("START") {
                self.word("WITH");
                O::Start(self.integer()?)
            } else if self.word("RESTART") {
                let with = self.word("WITH");
                let value = match self.parser.peek_token().token {
                    Token::Number(..) | Token::Minus => Some(self.integer()?),
                    _ if with => Some(self.integer()?),
                    _ => None,
                };
                O::Restart(value)
            } else if self.word("CACHE") {
                O::Cache(self.integer()?)
            } else if self.word("CYCLE") {
                O::Cycle(true)
            } else if self.word("OWNED") {
                self.expect_word("BY")?;
                if self.word("NONE") {
                    O::OwnedBy(None)
                } else {
                    let owner = self.parser.parse_object_name(false).map_err(syntax)?;
                    O::OwnedBy(Some(crate::sequence::owner_of(&owner)?))
                }
            } else if self.word("OWNER") {
                self.expect_word("TO")?;
                self.parser.parse_identifier().map_err(syntax)?;
                continue;
            } else {
                break;
            };
            options.push(option);
        }
        Ok(Plan::AlterSequence { name, if_exists, options })
    }

    /// A signed integer literal.
    fn integer(&mut self) -> Result<i64, PlanError> {
        let negative = self.parser.consume_token(&Token::Minus);
        let token = self.parser.next_token();
        match &token.token {
            Token::Number(n, _) => {
                let text = if negative { format!("-{n}") } else { n.clone() };
                text.parse().map_err(|_| PlanError::InvalidParameter(format!("{text} is out of range for type bigint")))
            }
            _ => Err(syntax(self.parser.expected::<()>("an integer", token).unwrap_err())),
        }
    }

    /// `name type [NOT NULL | NULL], ... )` after the opening parenthesis.
    fn columns(&mut self) -> Result<Vec<(String, ColumnType)>, PlanError> {
        let mut columns: Vec<(String, ColumnType)> = Vec::new();
        loop {
            let name = crate::expr::normalize_ident(&self.parser.parse_identifier().map_err(syntax)?);
            let data_type = self.parser.parse_data_type().map_err(syntax)?;
            let ty = parse_type_name(&data_type.to_string())?;
            let nullable = if self.parser.parse_keywords(&[Keyword::NOT, Keyword::NULL]) {
                false
            } else {
                let _ = self.parser.parse_keyword(Keyword::NULL);
                true
            };
            if columns.iter().any(|(n, _)| *n == name) {
                return Err(PlanError::DuplicateColumn(name));
            }
            columns.push((name, ColumnType::new(ty, nullable)));
            if !self.parser.consume_token(&Token::Comma) {
                self.parser.expect_token(&Token::RParen).map_err(syntax)?;
                return Ok(columns);
            }
        }
    }

    /// `(NAME WORDS value, ...)`: option names are one or more words, upper-cased and
    /// joined by a space; `=` before the value is optional.
    fn options(&mut self) -> Result<Vec<(String, OptionValue)>, PlanError> {
        let mut options = Vec::new();
        if !self.parser.consume_token(&Token::LParen) {
            return Ok(options);
        }
        loop {
            let mut words = Vec::new();
            while let Token::Word(w) = self.parser.peek_token().token {
                if w.value.eq_ignore_ascii_case("SECRET") && !words.is_empty() {
                    break;
                }
                words.push(w.value.to_ascii_uppercase());
                self.parser.next_token();
            }
            if words.is_empty() {
                return Err(syntax(
                    self.parser.expected::<()>("an option name", self.parser.peek_token()).unwrap_err(),
                ));
            }
            let _ = self.parser.consume_token(&Token::Eq);
            let value = if self.word("SECRET") {
                OptionValue::Secret(self.name()?)
            } else if self.parser.consume_token(&Token::LParen) {
                let mut items = vec![self.string()?];
                while self.parser.consume_token(&Token::Comma) {
                    items.push(self.string()?);
                }
                self.parser.expect_token(&Token::RParen).map_err(syntax)?;
                OptionValue::List(items)
            } else if let Token::Number(..) = self.parser.peek_token().token {
                OptionValue::Number(self.parser.parse_literal_uint().map_err(syntax)?)
            } else {
                OptionValue::Text(self.string()?)
            };
            options.push((words.join(" "), value));
            if !self.parser.consume_token(&Token::Comma) {
                self.parser.expect_token(&Token::RParen).map_err(syntax)?;
                return Ok(options);
            }
        }
    }

    /// `(URL 'http://host:port', USERNAME 'user', PASSWORD SECRET s)`.
    fn registry_connection(&mut self) -> Result<ConnectionPlan, PlanError> {
        let mut registry = SchemaRegistry::default();
        let mut secret_refs = Vec::new();
        for (name, value) in self.options()? {
            match (name.as_str(), value) {
                ("URL", OptionValue::Text(url)) => registry.url = url.trim_end_matches('/').to_string(),
                ("USERNAME", OptionValue::Text(user)) => registry.username = Some(user),
                ("PASSWORD", OptionValue::Secret(secret)) => secret_refs.push(("password".to_string(), secret)),
                ("PASSWORD", OptionValue::Text(_)) => {
                    return Err(PlanError::InvalidParameter(
                        "PASSWORD must name a secret: CREATE SECRET s AS '...'; then PASSWORD SECRET s".into(),
                    ))
                }
                (name, value) => {
                    return Err(PlanError::InvalidParameter(format!(
                        "invalid schema registry connection option {name} {} (known: URL 'http://host:port', \
                         USERNAME 'name', PASSWORD SECRET name)",
                        value.describe()
                    )))
                }
            }
        }
        if registry.url.is_empty() {
            return Err(PlanError::InvalidParameter(
                "CREATE CONNECTION ... TO CONFLUENT SCHEMA REGISTRY needs URL 'http://host:port'".into(),
            ));
        }
        if registry.url.split('/').nth(2).is_some_and(|authority| authority.contains('@')) {
            return Err(PlanError::InvalidParameter(
                "put the registry's credentials in USERNAME 'name', PASSWORD SECRET s, not in its URL".into(),
            ));
        }
        if !registry.url.starts_with("http://") {
            return Err(PlanError::Unsupported(format!(
                "schema registry URL '{}': only http:// URLs are supported (https is not yet)",
                registry.url
            )));
        }
        Ok(ConnectionPlan { target: ConnectionTarget::SchemaRegistry(registry), secret_refs })
    }

    fn kafka_connection(&mut self) -> Result<ConnectionPlan, PlanError> {
        let mut connection = KafkaConnection::default();
        let mut secret_refs = Vec::new();
        for (name, value) in self.options()? {
            let setting = match name.as_str() {
                "BROKER" | "BROKERS" => {
                    connection.brokers = match value {
                        OptionValue::Text(b) => b,
                        OptionValue::List(bs) => bs.join(","),
                        other => return Err(bad_option(&name, &other, "a string or a list of strings")),
                    };
                    continue;
                }
                "GROUP ID PREFIX" => {
                    connection.group_id_prefix = Some(text_option(&name, value)?);
                    continue;
                }
                "SECURITY PROTOCOL" => "security.protocol",
                "SASL MECHANISMS" | "SASL MECHANISM" => "sasl.mechanisms",
                "SASL USERNAME" => "sasl.username",
                "SASL PASSWORD" => "sasl.password",
                "SSL CA" | "SSL CERTIFICATE AUTHORITY" => "ssl.ca",
                "SSL CERTIFICATE" => "ssl.certificate",
                "SSL KEY" => "ssl.key",
                "SSL KEY PASSWORD" => "ssl.key.password",
                other => {
                    return Err(PlanError::InvalidParameter(format!(
                        "unknown Kafka connection option {other} (known: BROKER, BROKERS, SECURITY PROTOCOL, \
                         SASL MECHANISMS, SASL USERNAME, SASL PASSWORD, SSL CA, SSL CERTIFICATE, SSL KEY, \
                         SSL KEY PASSWORD, GROUP ID PREFIX)"
                    )))
                }
            };
            let must_be_secret = matches!(setting, "sasl.password" | "ssl.key" | "ssl.key.password");
            match value {
                OptionValue::Secret(secret) => secret_refs.push((setting.to_string(), secret)),
                OptionValue::Text(_) if must_be_secret => {
                    return Err(PlanError::InvalidParameter(format!(
                        "{name} must name a secret: CREATE SECRET s AS '...'; then {name} SECRET s"
                    )))
                }
                OptionValue::Text(text) => connection.options.push(pem_or_location(setting, text)),
                other => return Err(bad_option(&name, &other, "a string or SECRET name")),
            }
        }
        if connection.brokers.is_empty() {
            return Err(PlanError::InvalidParameter("CREATE CONNECTION ... TO KAFKA needs BROKER 'host:port'".into()));
        }
        Ok(ConnectionPlan { target: ConnectionTarget::Kafka(connection), secret_refs })
    }

    fn load_generator(&mut self) -> Result<LoadGeneratorSpec, PlanError> {
        let generator = self.choose(
            "unknown load generator",
            &[
                ("COUNTER", LoadGenerator::Counter),
                ("AUCTION", LoadGenerator::Auction),
                ("NEXMARK", LoadGenerator::Nexmark),
            ],
        )?;
        let mut spec = LoadGeneratorSpec {
            generator,
            tick: if generator == LoadGenerator::Nexmark { Duration::from_millis(100) } else { DEFAULT_GENERATOR_TICK },
            events_per_second: DEFAULT_NEXMARK_RATE,
            up_to: None,
        };
        for (name, value) in self.options()? {
            match (name.as_str(), value) {
                ("TICK INTERVAL", OptionValue::Text(t)) => spec.tick = duration(&name, &t)?,
                ("EVENTS PER SECOND", OptionValue::Number(n)) if n > 0 => spec.events_per_second = n,
                ("UP TO", OptionValue::Number(n)) => spec.up_to = Some(n),
                (name, value) => {
                    return Err(PlanError::InvalidParameter(format!(
                        "invalid load generator option {name} {} (known: TICK INTERVAL 'duration', \
                         EVENTS PER SECOND n (NEXMARK), UP TO n)",
                        value.describe()
                    )))
                }
            }
        }
        // Materialize's spelling; every table is always produced.
        if self.word("FOR") {
            self.expect_word("ALL")?;
            self.expect_word("TABLES")?;
        }
        Ok(spec)
    }

    fn format(&mut self) -> Result<(Format, Option<usize>), PlanError> {
        if self.word("JSON") {
            return Ok((Format::Json, None));
        }
        if self.word("TEXT") {
            return Ok((Format::Text, None));
        }
        if self.word("BYTES") {
            return Ok((Format::Bytes, None));
        }
        if self.word("CSV") {
            let mut columns = None;
            if self.word("WITH") {
                if self.word("HEADER") {
                    // The declared columns name the fields; messages carry no header row.
                } else {
                    columns = Some(self.parser.parse_literal_uint().map_err(syntax)? as usize);
                    self.expect_word("COLUMNS")?;
                }
            }
            let mut delimiter = ',';
            if self.word("DELIMITED") {
                self.expect_word("BY")?;
                let d = self.string()?;
                let mut chars = d.chars();
                delimiter = match (chars.next(), chars.next()) {
                    (Some(c), None) => c,
                    _ => return Err(PlanError::InvalidParameter("CSV delimiter must be one character".into())),
                };
            }
            return Ok((Format::Csv { delimiter }, columns));
        }
        if self.word("AVRO") {
            self.expect_word("USING")?;
            self.expect_word("CONFLUENT")?;
            self.expect_word("SCHEMA")?;
            self.expect_word("REGISTRY")?;
            self.expect_word("CONNECTION")?;
            let connection = self.name()?;
            return Ok((Format::Avro(Box::new(AvroFormat { connection, registry: SchemaRegistry::default() })), None));
        }
        if self.word("PROTOBUF") {
            return Err(PlanError::Unsupported("the Protobuf format (use JSON, AVRO, CSV, TEXT or BYTES)".into()));
        }
        let found = self.parser.peek_token();
        Err(PlanError::Syntax(format!("unknown format {found}: expected JSON, AVRO, CSV, TEXT or BYTES")))
    }

    /// The part after `FROM KAFKA CONNECTION name`, and the source's columns.
    fn kafka_source(
        &mut self,
        declared: Vec<(String, ColumnType)>,
    ) -> Result<(KafkaSourceSpec, RelationDesc), PlanError> {
        let mut topic = None;
        let mut start_offset = StartOffset::Earliest;
        let mut tick = DEFAULT_TICK;
        for (name, value) in self.options()? {
            match (name.as_str(), value) {
                ("TOPIC", OptionValue::Text(t)) => topic = Some(t),
                ("START OFFSET", OptionValue::Text(t)) => {
                    start_offset = match t.to_ascii_lowercase().as_str() {
                        "earliest" | "beginning" => StartOffset::Earliest,
                        "latest" | "end" => StartOffset::Latest,
                        _ => {
                            return Err(PlanError::InvalidParameter(format!(
                                "START OFFSET must be 'earliest' or 'latest', not '{t}'"
                            )))
                        }
                    }
                }
                ("TICK INTERVAL", OptionValue::Text(t)) => tick = duration(&name, &t)?,
                (name, value) => {
                    return Err(PlanError::InvalidParameter(format!(
                        "invalid Kafka source option {name} {} (known: TOPIC 'name', START OFFSET \
                         'earliest'|'latest', TICK INTERVAL 'duration')",
                        value.describe()
                    )))
                }
            }
        }
        let topic = topic.ok_or_else(|| PlanError::InvalidParameter("a Kafka source needs (TOPIC 'name')".into()))?;
        let mut key_format = None;
        let mut value_format = None;
        let mut csv_columns = None;
        let mut include = Vec::new();
        let mut envelope = Envelope::None;
        loop {
            if self.word("KEY") {
                self.expect_word("FORMAT")?;
                key_format = Some(self.format()?.0);
                self.expect_word("VALUE")?;
                self.expect_word("FORMAT")?;
                let (f, n) = self.format()?;
                value_format = Some(f);
                csv_columns = n;
            } else if self.word("VALUE") {
                self.expect_word("FORMAT")?;
                let (f, n) = self.format()?;
                value_format = Some(f);
                csv_columns = n;
            } else if self.word("FORMAT") {
                let (f, n) = self.format()?;
                key_format = Some(f.clone());
                value_format = Some(f);
                csv_columns = n;
            } else if self.word("INCLUDE") {
                loop {
                    let kind = self.choose(
                        "cannot INCLUDE",
                        &[
                            ("PARTITION", IncludeKind::Partition),
                            ("OFFSET", IncludeKind::Offset),
                            ("TIMESTAMP", IncludeKind::Timestamp),
                            ("KEY", IncludeKind::Key),
                        ],
                    )?;
                    let name = if self.word("AS") { self.name()? } else { kind.default_name().to_string() };
                    include.push(Include { kind, name });
                    if !self.parser.consume_token(&Token::Comma) {
                        break;
                    }
                }
            } else if self.word("ENVELOPE") {
                envelope = self.choose(
                    "unknown envelope",
                    &[("NONE", Envelope::None), ("UPSERT", Envelope::Upsert), ("DEBEZIUM", Envelope::Debezium)],
                )?;
            } else {
                break;
            }
        }
        let value_format = value_format.ok_or_else(|| {
            PlanError::InvalidParameter("a Kafka source needs FORMAT (JSON, AVRO, CSV, TEXT or BYTES)".into())
        })?;
        if envelope == Envelope::Debezium && !matches!(value_format, Format::Json | Format::Avro(_)) {
            return Err(PlanError::InvalidParameter("ENVELOPE DEBEZIUM needs FORMAT JSON or AVRO".into()));
        }
        let value_desc = value_columns(&value_format, declared, csv_columns)?;

        let key_include = include.iter().position(|i| i.kind == IncludeKind::Key);
        let needs_key = envelope == Envelope::Upsert || key_include.is_some();
        if needs_key && key_format.is_none() {
            return Err(PlanError::InvalidParameter(
                "ENVELOPE UPSERT and INCLUDE KEY need the key's format: KEY FORMAT f VALUE FORMAT f, or FORMAT f"
                    .into(),
            ));
        }
        let key_desc = match (&key_format, needs_key) {
            (Some(f), true) => {
                // With UPSERT the key leads the row; INCLUDE KEY AS names it.
                let name = key_include.map_or("key".to_string(), |i| include[i].name.clone());
                Some(RelationDesc::new(vec![(name, ColumnType::new(key_type(f), envelope != Envelope::Upsert))]))
            }
            _ => None,
        };
        if envelope == Envelope::Upsert {
            if let Some(i) = key_include {
                include.remove(i);
            }
        }
        let spec = KafkaSourceSpec {
            connection: KafkaConnection::default(),
            topic,
            start_offset,
            key_format: if needs_key { key_format } else { None },
            value_format,
            envelope,
            include,
            value_desc,
            key_desc,
            tick,
        };
        // An Avro source without declared columns gets its value's columns from the
        // registry (see `source_columns`); until then it has none.
        let desc = if spec.value_desc.arity() == 0 { RelationDesc::new(vec![]) } else { source_columns(&spec)? };
        Ok((spec, desc))
    }
}

/// A Kafka source's columns: `[key (UPSERT)] ++ value columns ++ INCLUDE columns`.
pub fn source_columns(spec: &KafkaSourceSpec) -> Result<RelationDesc, PlanError> {
    let mut columns = Vec::new();
    if spec.envelope == Envelope::Upsert {
        columns.extend(spec.key_desc.iter().flat_map(|d| d.columns().iter().cloned()));
    }
    columns.extend(spec.value_desc.columns().iter().cloned());
    for i in &spec.include {
        let ty = match i.kind {
            IncludeKind::Partition => ScalarType::Int32,
            IncludeKind::Offset => ScalarType::Int64,
            IncludeKind::Timestamp => ScalarType::timestamptz(),
            IncludeKind::Key => spec.key_format.as_ref().map_or(ScalarType::Bytea, key_type),
        };
        columns.push((i.name.clone(), ColumnType::new(ty, i.kind == IncludeKind::Key)));
    }
    for (i, (name, _)) in columns.iter().enumerate() {
        if columns[..i].iter().any(|(n, _)| n == name) {
            return Err(PlanError::DuplicateColumn(name.clone()));
        }
    }
    Ok(RelationDesc::new(columns))
}

/// `CREATE SOURCE` text with `columns` declared after the source's name: how a source
/// whose columns came from a schema registry is stored, so that a restart (or a newer
/// schema in the registry) does not change them.
pub fn with_declared_columns(create_sql: &str, columns: &[(String, ColumnType)]) -> Result<String, PlanError> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let tokens = sqlparser::tokenizer::Tokenizer::new(&dialect, create_sql)
        .tokenize_with_location()
        .map_err(|e| PlanError::Syntax(e.to_string()))?;
    // The first unquoted FROM ends the name (a load of columns would come before it).
    let from = tokens
        .iter()
        .find(|t| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.keyword == Keyword::FROM))
        .ok_or_else(|| PlanError::Syntax("CREATE SOURCE without FROM".into()))?;
    let offset = crate::byte_offset(create_sql, from.span.start);
    let list: Vec<String> = columns
        .iter()
        .map(|(name, ty)| {
            format!("{} {}{}", crate::quote_ident(name), ty.scalar_type, if ty.nullable { "" } else { " NOT NULL" })
        })
        .collect();
    Ok(format!("{}({}) {}", &create_sql[..offset], list.join(", "), &create_sql[offset..]))
}

/// The value's columns: as declared, or the format's default.
fn value_columns(
    format: &Format,
    declared: Vec<(String, ColumnType)>,
    csv_columns: Option<usize>,
) -> Result<RelationDesc, PlanError> {
    if declared.is_empty() && matches!(format, Format::Avro(_)) {
        // From the registry's latest schema, when the source is created.
        return Ok(RelationDesc::new(vec![]));
    }
    if !declared.is_empty() {
        if matches!(format, Format::Text | Format::Bytes) && declared.len() != 1 {
            return Err(PlanError::InvalidParameter("FORMAT TEXT and BYTES decode to exactly one column".into()));
        }
        if let Some(n) = csv_columns.filter(|n| *n != declared.len()) {
            return Err(PlanError::InvalidParameter(format!(
                "CSV WITH {n} COLUMNS but {} columns declared",
                declared.len()
            )));
        }
        return Ok(RelationDesc::new(declared));
    }
    let one = |name: &str, ty: ScalarType| RelationDesc::new(vec![(name.to_string(), ColumnType::new(ty, true))]);
    Ok(match format {
        Format::Json | Format::Avro(_) => one("data", ScalarType::Jsonb),
        Format::Text => one("text", ScalarType::Text),
        Format::Bytes => one("data", ScalarType::Bytea),
        Format::Csv { .. } => match csv_columns {
            Some(n) if n > 0 => RelationDesc::new(
                (1..=n).map(|i| (format!("column{i}"), ColumnType::new(ScalarType::Text, true))).collect(),
            ),
            _ => {
                return Err(PlanError::InvalidParameter(
                    "FORMAT CSV needs its columns: declare them, or FORMAT CSV WITH n COLUMNS".into(),
                ))
            }
        },
    })
}

/// A key decodes to one column of this type.
fn key_type(format: &Format) -> ScalarType {
    match format {
        Format::Json | Format::Avro(_) => ScalarType::Jsonb,
        Format::Bytes => ScalarType::Bytea,
        Format::Text | Format::Csv { .. } => ScalarType::Text,
    }
}

/// librdkafka takes certificates and keys either inline (`*.pem`) or from a file
/// (`*.location`); a value holding a PEM block is inline.
fn pem_or_location(setting: &str, value: String) -> (String, String) {
    match setting {
        "ssl.ca" | "ssl.certificate" | "ssl.key" => {
            let suffix = if value.contains("-----BEGIN") { "pem" } else { "location" };
            (format!("{setting}.{suffix}"), value)
        }
        _ => (setting.to_string(), value),
    }
}

fn text_option(name: &str, value: OptionValue) -> Result<String, PlanError> {
    match value {
        OptionValue::Text(t) => Ok(t),
        other => Err(bad_option(name, &other, "a string")),
    }
}

fn bad_option(name: &str, value: &OptionValue, expected: &str) -> PlanError {
    PlanError::InvalidParameter(format!("option {name} takes {expected}, not {}", value.describe()))
}

/// The smallest target lag accepted (Snowflake's is a minute; being useful far below
/// that is the point).
const MIN_TARGET_LAG: Duration = Duration::from_millis(100);

/// A `TARGET_LAG` value: `DOWNSTREAM` or an interval of at least [`MIN_TARGET_LAG`].
pub fn target_lag(text: &str) -> Result<crate::Lag, PlanError> {
    if text.eq_ignore_ascii_case("DOWNSTREAM") {
        return Ok(crate::Lag::Downstream);
    }
    let lag = duration("TARGET_LAG", text)?;
    if lag < MIN_TARGET_LAG {
        return Err(PlanError::InvalidParameter(format!("TARGET_LAG must be at least 100 ms, not '{text}'")));
    }
    Ok(crate::Lag::Every(lag))
}

/// A lag as an interval literal's text, in the largest unit that divides it.
pub fn format_lag(lag: Duration) -> String {
    let ms = lag.as_millis();
    let units = [(86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute"), (1000, "second"), (1, "millisecond")];
    let (size, unit) = units.into_iter().find(|(size, _)| ms.is_multiple_of(*size)).unwrap_or((1, "millisecond"));
    let n = ms / size;
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// An interval literal (`'100ms'`, `'2 seconds'`) as a positive duration.
fn duration(option: &str, text: &str) -> Result<Duration, PlanError> {
    let iv = strconv::parse_interval(text).map_err(|e| PlanError::InvalidParameter(format!("{option}: {e}")))?;
    let micros = iv.micros as i128 + (iv.days as i128 + iv.months as i128 * 30) * 86_400_000_000;
    if micros <= 0 {
        return Err(PlanError::InvalidParameter(format!("{option} must be positive, not '{text}'")));
    }
    Ok(Duration::from_micros(micros.min(u64::MAX as i128) as u64))
}

fn syntax(e: ParserError) -> PlanError {
    PlanError::Syntax(e.to_string().trim_start_matches("sql parser error: ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Statement;

    fn plan_of(sql: &str) -> Plan {
        let mut stmts = crate::parse(sql).expect("parses");
        assert_eq!(stmts.len(), 1, "{sql}");
        match stmts.remove(0) {
            Statement::Eddy(plan) => *plan,
            Statement::Sql(other) => panic!("not Eddy DDL: {other}"),
            other => panic!("not Eddy DDL: {other:?}"),
        }
    }

    fn column_names(desc: &RelationDesc) -> Vec<&str> {
        desc.columns().iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn kafka_source_columns_formats_and_includes() {
        let sql = "CREATE SOURCE orders (id bigint NOT NULL, amount numeric) \
                   FROM KAFKA CONNECTION c (TOPIC 'orders', START OFFSET 'latest') \
                   FORMAT JSON INCLUDE PARTITION, OFFSET AS o, KEY";
        let Plan::CreateSource { name, spec: SourceSpec::Kafka(k), desc, connection, create_sql, .. } = plan_of(sql)
        else {
            panic!("a Kafka source")
        };
        assert_eq!((name.as_str(), connection.as_deref()), ("orders", Some("c")));
        assert_eq!(column_names(&desc), ["id", "amount", "partition", "o", "key"]);
        assert!(!desc.columns()[0].1.nullable);
        assert_eq!((k.topic.as_str(), k.start_offset.clone()), ("orders", StartOffset::Latest));
        assert_eq!((k.key_format, k.value_format), (Some(Format::Json), Format::Json));
        assert_eq!(create_sql, sql, "SHOW CREATE gives the statement as written");
    }

    #[test]
    fn avro_sources_name_their_registry_and_take_columns_later() {
        let Plan::CreateConnection { connection, .. } = plan_of(
            "CREATE CONNECTION csr TO CONFLUENT SCHEMA REGISTRY (URL 'http://r:8081/', USERNAME 'u', PASSWORD SECRET p)",
        ) else {
            panic!("a connection")
        };
        let registry = SchemaRegistry { url: "http://r:8081".into(), username: Some("u".into()), password: None };
        assert_eq!(connection.target, ConnectionTarget::SchemaRegistry(registry));
        assert_eq!(connection.secret_refs, [("password".to_string(), "p".to_string())]);

        let sql = "CREATE SOURCE \"from\" FROM KAFKA CONNECTION k (TOPIC 't') \
                   FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY CONNECTION csr INCLUDE OFFSET";
        let Plan::CreateSource { desc, spec: SourceSpec::Kafka(mut k), .. } = plan_of(sql) else { panic!("a source") };
        assert_eq!(desc.arity(), 0, "columns come from the registry");
        assert!(matches!(&k.value_format, Format::Avro(a) if a.connection == "csr"));
        // What the server does with the registry's columns.
        let columns = vec![("a b".to_string(), ColumnType::new(ScalarType::Int64, false))];
        k.value_desc = RelationDesc::new(columns.clone());
        assert_eq!(column_names(&source_columns(&k).expect("columns")), ["a b", "offset"]);
        assert_eq!(
            with_declared_columns(sql, &columns).expect("rewritten"),
            "CREATE SOURCE \"from\" (\"a b\" bigint NOT NULL) FROM KAFKA CONNECTION k (TOPIC 't') \
             FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY CONNECTION csr INCLUDE OFFSET"
        );
    }

    #[test]
    fn declared_columns_read_back_as_the_same_types() {
        // Every type an Avro schema can give a column, as a restart replays it.
        let types = [
            ScalarType::Bool,
            ScalarType::Int32,
            ScalarType::Int64,
            ScalarType::Float32,
            ScalarType::Float64,
            ScalarType::Numeric { precision: Some(28), scale: Some(9) },
            ScalarType::numeric(),
            ScalarType::Text,
            ScalarType::Bytea,
            ScalarType::Uuid,
            ScalarType::Date,
            ScalarType::time(),
            ScalarType::timestamp(),
            ScalarType::timestamptz(),
            ScalarType::Interval,
            ScalarType::Jsonb,
            ScalarType::Array(Box::new(ScalarType::Int64)),
            ScalarType::Array(Box::new(ScalarType::timestamptz())),
        ];
        let columns: Vec<(String, ColumnType)> =
            types.iter().enumerate().map(|(i, t)| (format!("c{i}"), ColumnType::new(t.clone(), i % 2 == 0))).collect();
        let sql = "CREATE SOURCE s FROM KAFKA CONNECTION k (TOPIC 't') FORMAT AVRO USING CONFLUENT SCHEMA REGISTRY CONNECTION r";
        let replayed = with_declared_columns(sql, &columns).expect("rewritten");
        let Plan::CreateSource { desc, .. } = plan_of(&replayed) else { panic!("a source: {replayed}") };
        assert_eq!(desc.columns(), columns.as_slice(), "{replayed}");
    }

    #[test]
    fn upsert_key_leads_and_include_key_names_it() {
        let sql = "CREATE SOURCE u FROM KAFKA CONNECTION c (TOPIC 'u') \
                   KEY FORMAT TEXT VALUE FORMAT JSON INCLUDE KEY AS id, TIMESTAMP ENVELOPE UPSERT";
        let Plan::CreateSource { desc, spec: SourceSpec::Kafka(k), .. } = plan_of(sql) else { panic!("a source") };
        assert_eq!(column_names(&desc), ["id", "data", "timestamp"]);
        assert_eq!(k.include.len(), 1, "the key is not included twice");
        assert_eq!(k.envelope, Envelope::Upsert);
    }

    #[test]
    fn eddy_and_postgres_statements_mix_in_one_string() {
        let stmts = crate::parse(
            "CREATE SECRET s AS 'x'; SELECT 1; DROP SOURCE IF EXISTS a, b CASCADE; SHOW CREATE CONNECTION c",
        )
        .expect("parses");
        assert_eq!(stmts.len(), 4);
        assert!(matches!(&stmts[1], Statement::Sql(_)));
        let Statement::Eddy(drop) = &stmts[2] else { panic!("eddy") };
        assert!(matches!(**drop, Plan::Drop { ref names, if_exists: true, cascade: true, .. } if names.len() == 2));
    }

    #[test]
    fn dynamic_tables_become_materialized_views_and_show_as_written() {
        let stmts = crate::parse(
            "CREATE DYNAMIC TABLE d TARGET_LAG = DOWNSTREAM REFRESH_MODE = FULL WAREHOUSE = wh AS SELECT 1 AS x",
        )
        .expect("parses");
        let Some(Statement::Sql(stmt)) = stmts.first() else { panic!("a CREATE MATERIALIZED VIEW") };
        let text = stmt.to_string();
        assert!(text.starts_with("CREATE MATERIALIZED VIEW d WITH (TARGET_LAG = 'DOWNSTREAM'"), "{text}");
        assert!(text.contains("REFRESH_MODE = 'FULL'") && text.contains("DYNAMIC_TABLE = true"), "{text}");
        assert!(!text.contains("wh"), "WAREHOUSE is accepted and ignored: {text}");

        let target = crate::TargetLag { lag: crate::Lag::Downstream, on_create: true, mode: crate::RefreshMode::Full };
        let shown = view_with_target_lag_sql("d", &[], &target, true, "SELECT 1 AS x");
        assert_eq!(
            shown,
            "CREATE DYNAMIC TABLE d TARGET_LAG = DOWNSTREAM REFRESH_MODE = FULL INITIALIZE = ON_CREATE AS SELECT 1 AS x"
        );
        let minute = crate::Lag::Every(Duration::from_secs(60));
        let altered = crate::alter_target_lag_sql(&shown, minute).expect("re-plans");
        assert!(altered.starts_with("CREATE DYNAMIC TABLE d TARGET_LAG = '1 minute' REFRESH_MODE = FULL"), "{altered}");
        let from_continuous = crate::alter_target_lag_sql("CREATE MATERIALIZED VIEW m (a) AS SELECT 1", minute);
        let from_continuous = from_continuous.expect("a continuous view gets a lag");
        assert!(from_continuous.starts_with("CREATE MATERIALIZED VIEW m (a) WITH (TARGET_LAG = '1 minute'"));

        assert_eq!(refresh_mode("auto").ok(), Some(crate::RefreshMode::Incremental));
        assert!(refresh_mode("sometimes").is_err());
        assert_eq!(target_lag("downstream").ok(), Some(crate::Lag::Downstream));
        assert!(target_lag("50ms").is_err());
        assert_eq!(format_lag(Duration::from_millis(1500)), "1500 milliseconds");
        assert_eq!(format_lag(Duration::from_secs(7200)), "2 hours");
        let Statement::Eddy(drop) = &crate::parse("DROP DYNAMIC TABLE IF EXISTS d").expect("parses")[0] else {
            panic!("eddy")
        };
        assert!(matches!(**drop, Plan::Drop { kind: crate::ObjectKind::MaterializedView, if_exists: true, .. }));
    }

    #[test]
    fn subscribe_forms() {
        let stmts = crate::parse(
            "SUBSCRIBE TO v; SUBSCRIBE v WITH (SNAPSHOT = false, PROGRESS); COPY (SUBSCRIBE (SELECT 1)) TO STDOUT",
        )
        .expect("parses");
        let subs: Vec<&SubscribeStatement> = stmts
            .iter()
            .map(|s| match s {
                Statement::Subscribe(sub) => &**sub,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(matches!(&subs[0].target, SubscribeTarget::Name(n) if n == "v"));
        assert!(subs[0].snapshot && !subs[0].progress);
        assert!(!subs[1].snapshot && subs[1].progress);
        assert!(matches!(subs[2].target, SubscribeTarget::Query(_)));
        let err = crate::parse("SUBSCRIBE v WITH (SPEED 1)").map(|_| ()).expect_err("bad option").to_string();
        assert!(err.contains("unknown SUBSCRIBE option"), "{err}");
    }

    #[test]
    fn bad_statements_say_what_is_wrong() {
        let err = |sql: &str| crate::parse(sql).map(|_| ()).expect_err(sql).to_string();
        assert!(err("CREATE SOURCE s FROM KAFKA CONNECTION c (TOPIC 't') FORMAT AVRO").contains("USING"));
        assert!(err("CREATE CONNECTION r TO CONFLUENT SCHEMA REGISTRY (URL 'https://r')").contains("only http://"));
        assert!(err("CREATE CONNECTION r TO CONFLUENT SCHEMA REGISTRY (PASSWORD 'p')").contains("must name a secret"));
        assert!(err("CREATE CONNECTION r TO CONFLUENT SCHEMA REGISTRY (USERNAME 'u')").contains("needs URL"));
        assert!(err("CREATE CONNECTION r TO CONFLUENT SCHEMA REGISTRY (URL 'http://u:pw@r')").contains("USERNAME"));
        assert_eq!(
            err("CREATE CONNECTION c TO KAFKA (BROKER 'b', SASL PASSWORD 'p')"),
            "SASL PASSWORD must name a secret: CREATE SECRET s AS '...'; then SASL PASSWORD SECRET s"
        );
        assert!(err("CREATE SOURCE s FROM KAFKA CONNECTION c (TOPIC 't') FORMAT CSV").contains("FORMAT CSV needs"));
        assert!(err("CREATE SOURCE s FROM LOAD GENERATOR COUNTER (TICK INTERVAL '0s')").contains("must be positive"));
        assert!(err("CREATE SECRET s AS 'x' garbage").contains("end of statement"));
    }
}
