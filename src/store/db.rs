//! The one place that knows which database engine is behind the store. Statements are
//! written once, in SQL both SQLite and PostgreSQL accept, with SQLite's `?N`
//! placeholders; PostgreSQL gets them as `$N`. Values cross in a small neutral type,
//! converted leniently both ways, because PostgreSQL will not bind an `i64` to an `int4`
//! nor read a `COUNT(*)` (`int8`) into an `i32`, where SQLite converts silently.

use super::StoreError;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg_message(.0))]
    Pg(#[from] postgres::Error),
    #[error("no row")]
    NoRow,
    #[error("column {column}: {problem}")]
    Type { column: String, problem: String },
}

/// The server's own message when there is one: `postgres::Error` alone says "db error",
/// or "error connecting to server" without why (the cause is only its source).
fn pg_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

pub type DbResult<T> = Result<T, DbError>;

/// A value bound to or read from a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

/// What `vals!` accepts: borrowed like `rusqlite::params!`, so fields need no clone.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::try_from(*self).expect("an integer fits in i64"))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u64, usize);

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

/// The statement parameters, in order: `vals![a, b]` replaces `rusqlite::params![a, b]`.
macro_rules! vals {
    ($($v:expr),* $(,)?) => {
        &[$($crate::store::db::ToValue::to_value(&$v)),*][..]
    };
}
pub(crate) use vals;

/// What a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: Value) -> Result<Self, String>;
}

impl FromValue for i64 {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Int(i) => Ok(i),
            Value::Bool(b) => Ok(i64::from(b)),
            Value::Real(f) if f.fract() == 0.0 => Ok(f as i64),
            Value::Text(t) => t.parse().map_err(|_| format!("not an integer: {t:?}")),
            other => Err(format!("not an integer: {other:?}")),
        }
    }
}

macro_rules! narrow_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> Result<Self, String> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range"))
            }
        }
    )*};
}
narrow_from_value!(i32, u32, u64, usize);

impl FromValue for f64 {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Real(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            Value::Text(t) => t.parse().map_err(|_| format!("not a number: {t:?}")),
            other => Err(format!("not a number: {other:?}")),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::Int(i) => Ok(i != 0),
            other => Err(format!("not a boolean: {other:?}")),
        }
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Text(t) => Ok(t),
            Value::Int(i) => Ok(i.to_string()),
            Value::Real(f) => Ok(f.to_string()),
            other => Err(format!("not text: {other:?}")),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A column by position or by name.
pub trait Column: rusqlite::RowIndex + postgres::row::RowIndex + Copy + std::fmt::Display {
    fn position(self, columns: &[postgres::Column]) -> Option<usize>;
}
impl Column for usize {
    fn position(self, columns: &[postgres::Column]) -> Option<usize> {
        (self < columns.len()).then_some(self)
    }
}
impl Column for &str {
    fn position(self, columns: &[postgres::Column]) -> Option<usize> {
        columns.iter().position(|c| c.name() == self)
    }
}

/// One result row of either engine.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Pg(&'a postgres::Row),
}

impl Row<'_> {
    pub fn get<T: FromValue>(&self, column: impl Column) -> DbResult<T> {
        let value = match self {
            Row::Sqlite(r) => match r.get_ref(column)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                rusqlite::types::ValueRef::Real(f) => Value::Real(f),
                rusqlite::types::ValueRef::Text(t) => Value::Text(
                    std::str::from_utf8(t)
                        .map_err(|e| type_error(column, e.to_string()))?
                        .to_owned(),
                ),
                rusqlite::types::ValueRef::Blob(_) => {
                    return Err(type_error(column, "a blob".into()));
                }
            },
            Row::Pg(r) => pg_value(r, column)?,
        };
        T::from_value(value).map_err(|problem| type_error(column, problem))
    }
}

fn type_error(column: impl Column, problem: String) -> DbError {
    DbError::Type {
        column: column.to_string(),
        problem,
    }
}

fn pg_value(r: &postgres::Row, column: impl Column) -> DbResult<Value> {
    let i = column
        .position(r.columns())
        .ok_or_else(|| type_error(column, "no such column".into()))?;
    let ty = r.columns()[i].type_().clone();
    let value = match ty {
        Type::INT2 => r
            .try_get::<_, Option<i16>>(i)?
            .map(|i| Value::Int(i.into())),
        Type::INT4 => r
            .try_get::<_, Option<i32>>(i)?
            .map(|i| Value::Int(i.into())),
        Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::FLOAT4 => r
            .try_get::<_, Option<f32>>(i)?
            .map(|f| Value::Real(f.into())),
        Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(Value::Real),
        Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
        _ => r.try_get::<_, Option<String>>(i)?.map(Value::Text),
    };
    Ok(value.unwrap_or(Value::Null))
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
        }))
    }
}

impl ToSql for Value {
    /// Converts to whatever type PostgreSQL inferred for the parameter.
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let int = |i: i64, out: &mut bytes::BytesMut| match *ty {
            Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
            Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
            Type::INT8 => i.to_sql(ty, out),
            Type::FLOAT4 => (i as f32).to_sql(ty, out),
            Type::FLOAT8 => (i as f64).to_sql(ty, out),
            Type::BOOL => (i != 0).to_sql(ty, out),
            _ => i.to_string().to_sql(ty, out),
        };
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => int(*i, out),
            Value::Bool(b) if *ty != Type::BOOL => int(i64::from(*b), out),
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                _ => f.to_string().to_sql(ty, out),
            },
            Value::Text(t) => t.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Which SQL a statement that differs between the engines must use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A statement that cannot be written once for both engines.
pub struct Sql {
    pub sqlite: &'static str,
    pub pg: &'static str,
}

pub struct PgConn {
    client: postgres::Client,
    /// Prepared once per statement text, like rusqlite's `prepare_cached`.
    statements: HashMap<String, postgres::Statement>,
    /// How to connect again when the server goes away (a restart, a failover).
    config: postgres::Config,
    target: String,
    /// The leader epoch this connection took; a new connection must find it unchanged
    /// before it writes again, or another instance has driven in between.
    leading: Option<i64>,
    /// Another instance took over while the connection was down: nothing more is written.
    lost: bool,
    retry_at: Instant,
    backoff: Duration,
}

/// The first wait before connecting again, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl PgConn {
    fn new(client: postgres::Client, config: postgres::Config, target: String) -> PgConn {
        PgConn {
            client,
            statements: HashMap::new(),
            config,
            target,
            leading: None,
            lost: false,
            retry_at: Instant::now(),
            backoff: FIRST_BACKOFF,
        }
    }

    /// Connects again if the connection is gone and the backoff allows it.
    fn revive(&mut self) -> Result<(), StoreError> {
        if self.lost {
            return Err(StoreError::LeadershipLost {
                target: self.target.clone(),
            });
        }
        if !self.client.is_closed() {
            return Ok(());
        }
        let unavailable = || StoreError::Unavailable {
            target: self.target.clone(),
        };
        if Instant::now() < self.retry_at {
            return Err(unavailable());
        }
        match open_client(&self.config) {
            Ok(client) => {
                self.client = client;
                self.statements.clear();
                self.backoff = FIRST_BACKOFF;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = self.backoff.as_millis() as u64, "PostgreSQL is unreachable; connecting again.");
                self.retry_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                return Err(unavailable());
            }
        }
        if let Some(epoch) = self.leading
            && !self.still_leading(epoch)
        {
            self.lost = true;
            tracing::error!(database = %self.target, "Another kaden instance drove the escalations while PostgreSQL was unreachable; this one stops.");
            return Err(StoreError::LeadershipLost {
                target: self.target.clone(),
            });
        }
        tracing::info!(database = %self.target, "Reconnected to PostgreSQL.");
        Ok(())
    }

    /// On a new connection: the leader lock is free again and nobody took `epoch` over.
    fn still_leading(&mut self, epoch: i64) -> bool {
        let locked = self
            .client
            .query_one(LEADER_LOCK, &[])
            .is_ok_and(|r| r.get::<_, bool>(0));
        locked
            && self
                .client
                .query_opt("SELECT epoch FROM kaden_leader WHERE id = 1", &[])
                .ok()
                .flatten()
                .is_some_and(|r| r.get::<_, i64>(0) == epoch)
    }

    fn prepare(&mut self, sql: &str) -> DbResult<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let statement = self.client.prepare(&dollar_placeholders(sql))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// `?N` becomes `$N`; a bare `?` takes the next number, as SQLite counts it.
fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1;
    let mut in_string = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_string = !in_string;
        }
        if c != '?' || in_string {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let n = if digits.is_empty() {
            next
        } else {
            digits.parse().expect("digits")
        };
        next = n + 1;
        out.push('$');
        out.push_str(&n.to_string());
    }
    out
}

/// `user@host:port/db` of a PostgreSQL URL: what messages name, never the password.
pub fn pg_target(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    format!("{user}{host}:{port}/{db}")
}

/// Several instances may share one database; whoever holds this session lock drives the
/// escalations. PostgreSQL frees it the moment the holder's connection ends, a killed
/// process included.
pub(crate) const LEADER_LOCK: &str = "SELECT pg_try_advisory_lock(hashtext('kaden:leader'))";

/// Connects, and names the database as messages may (`user@host:port/db`).
pub fn connect_pg(url: &str) -> Result<(Db, String), StoreError> {
    let mut config: postgres::Config = url.parse().map_err(|_| StoreError::PgConfig {
        target: "?".into(),
        problem: "not a PostgreSQL URL (postgres://user@host/db)".into(),
    })?;
    let target = pg_target(&config);
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err(StoreError::PgConfig {
            target,
            problem:
                "sslmode=require is not supported yet; use sslmode=disable on a trusted network"
                    .into(),
        });
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    // A leader cut off by the network must lose its lock in seconds, not in the two
    // hours of the kernel's default keepalive.
    config.keepalives_idle(Duration::from_secs(5));
    config
        .options("-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3");
    let client = open_client(&config).map_err(|source| StoreError::Connect {
        target: target.clone(),
        source,
    })?;
    let conn = PgConn::new(client, config, target.clone());
    Ok((Db::Pg(Box::new(RefCell::new(conn))), target))
}

fn open_client(config: &postgres::Config) -> DbResult<postgres::Client> {
    Ok(config.connect(postgres::NoTls)?)
}

/// The connection the storage thread owns.
pub enum Db {
    Sqlite(rusqlite::Connection),
    /// `postgres::Client` needs `&mut`; the store thread is its only user.
    Pg(Box<RefCell<PgConn>>),
}

fn pg_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Db {
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Pg(_) => Dialect::Postgres,
        }
    }

    /// The connection is gone (PostgreSQL restarted or failed over); SQLite never is.
    pub fn is_down(&self) -> bool {
        match self {
            Db::Sqlite(_) => false,
            Db::Pg(pg) => pg.borrow().client.is_closed(),
        }
    }

    /// `user@host:port/db` for PostgreSQL, for messages.
    pub fn target(&self) -> String {
        match self {
            Db::Sqlite(_) => "sqlite".into(),
            Db::Pg(pg) => pg.borrow().target.clone(),
        }
    }

    /// Usable again: connects again when the connection is gone. Errors are
    /// `Unavailable` (try later) or `LeadershipLost` (never write again).
    pub fn revive(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(_) => Ok(()),
            Db::Pg(pg) => pg.borrow_mut().revive(),
        }
    }

    /// Takes the leader lock if it is free and records this instance as the leader under
    /// a new epoch. SQLite has one daemon per file, which always leads.
    pub fn try_lead(&self, instance: &str, url: &str) -> Result<bool, StoreError> {
        let Db::Pg(pg) = self else {
            return Ok(true);
        };
        if pg.borrow().leading.is_some() {
            return Ok(true);
        }
        if !self.query_row(LEADER_LOCK, &[], |r| r.get::<bool>(0))? {
            return Ok(false);
        }
        let epoch: i64 = self.query_row(
            "INSERT INTO kaden_leader (id, instance, url, epoch) VALUES (1, ?1, ?2, 1)
             ON CONFLICT (id) DO UPDATE SET instance = EXCLUDED.instance, url = EXCLUDED.url,
                 epoch = kaden_leader.epoch + 1
             RETURNING epoch",
            vals![instance, url],
            |r| r.get(0),
        )?;
        pg.borrow_mut().leading = Some(epoch);
        Ok(true)
    }

    /// The instance that last took the lead, and where it listens.
    pub fn leader(&self) -> Result<Option<(String, String)>, StoreError> {
        match self {
            Db::Sqlite(_) => Ok(None),
            Db::Pg(_) => Ok(self.query_opt(
                "SELECT instance, url FROM kaden_leader WHERE id = 1",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?),
        }
    }

    /// The text of `sql` for this engine.
    pub fn pick(&self, sql: &Sql) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => sql.sqlite,
            Dialect::Postgres => sql.pg,
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> DbResult<usize> {
        match self {
            Db::Sqlite(conn) => Ok(conn
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params))?),
            Db::Pg(pg) => {
                let mut pg = pg.borrow_mut();
                let statement = pg.prepare(sql)?;
                Ok(pg.client.execute(&statement, &pg_params(params))? as usize)
            }
        }
    }

    /// Runs statements without parameters, such as `BEGIN` or a schema.
    pub fn batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Pg(pg) => Ok(pg.borrow_mut().client.batch_execute(sql)?),
        }
    }

    /// Every row `sql` answers, through `f`.
    pub fn query<T>(
        &self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r))?);
                }
                Ok(out)
            }
            Db::Pg(pg) => {
                let mut pg = pg.borrow_mut();
                let statement = pg.prepare(sql)?;
                let rows = pg.client.query(&statement, &pg_params(params))?;
                rows.iter().map(|r| f(&Row::Pg(r))).collect()
            }
        }
    }

    /// The first row `sql` answers, if any.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<Option<T>> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                rows.next()?.map(|r| f(&Row::Sqlite(r))).transpose()
            }
            Db::Pg(pg) => {
                let mut pg = pg.borrow_mut();
                let statement = pg.prepare(sql)?;
                let rows = pg.client.query(&statement, &pg_params(params))?;
                rows.first().map(|r| f(&Row::Pg(r))).transpose()
            }
        }
    }

    /// The one row `sql` answers; an error when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        self.query_opt(sql, params, f)?.ok_or(DbError::NoRow)
    }

    /// The SQLite connection, for what only SQLite has (pragmas in tests).
    #[cfg(test)]
    pub fn sqlite(&self) -> &rusqlite::Connection {
        match self {
            Db::Sqlite(conn) => conn,
            Db::Pg(_) => panic!("a SQLite-only test ran on PostgreSQL"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_dollars_outside_strings() {
        assert_eq!(
            dollar_placeholders("SELECT ?1, ?, '?', ?12 WHERE a = ?2"),
            "SELECT $1, $2, '?', $12 WHERE a = $2"
        );
    }

    #[test]
    fn values_convert_leniently() {
        assert_eq!(u32::from_value(Value::Int(3)), Ok(3));
        assert_eq!(bool::from_value(Value::Int(1)), Ok(true));
        assert_eq!(i64::from_value(Value::Bool(true)), Ok(1));
        assert_eq!(f64::from_value(Value::Int(2)), Ok(2.0));
        assert_eq!(Option::<String>::from_value(Value::Null), Ok(None));
        assert!(u32::from_value(Value::Int(-1)).is_err());
        assert!(String::from_value(Value::Null).is_err());
    }
}
