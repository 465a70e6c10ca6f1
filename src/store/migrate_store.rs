//! `kaden migrate-store`: a SQLite store copied row for row into an empty PostgreSQL
//! database, ids kept, in one transaction.

use super::db::connect_pg;
use super::db::{Db, Value, vals};
use super::read_only::off_runtime;
use super::{DaemonLock, StoreError};
use rusqlite::Connection;
use std::path::Path;

/// Rows of one table copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    pub table: String,
    pub rows: u64,
}

/// What `/healthz` writes to prove it can commit: scratch, not data, so neither copied
/// nor counted as data already there.
const SKIPPED: &str = "health_probe";

/// Bound values per INSERT: PostgreSQL takes at most 65535.
const MAX_PARAMS: usize = 30_000;

/// Migrates `sqlite` to the latest schema, then copies every table into the PostgreSQL
/// database at `url`, which must hold no kaden data. The schema is created there first if
/// absent (its own transaction); the rows go in one transaction, so a failure leaves the
/// target as it was. Refuses while a daemon serves either database.
pub fn migrate_store(sqlite: &Path, url: &str) -> Result<(String, Vec<Copied>), StoreError> {
    if !sqlite.exists() {
        return Err(StoreError::Open {
            path: sqlite.to_owned(),
            source: rusqlite::Error::InvalidPath(sqlite.to_owned()),
        });
    }
    let _lock = DaemonLock::acquire(sqlite)?;
    let open_err = |source| StoreError::Open {
        path: sqlite.to_owned(),
        source,
    };
    let mut source =
        Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(open_err)?;
    super::migrations::migrate(&mut source, sqlite)?;
    let tables = tables_in_order(&source)?;
    off_runtime(move || {
        let (target, name) = connect_pg(url)?;
        super::migrations::migrate_pg(&target, &name)?;
        // Held by the instance that leads; waiting instances write nothing.
        let locked: bool = target.query_row(super::db::LEADER_LOCK, vals![], |r| r.get(0))?;
        if !locked {
            return Err(StoreError::PgLocked { target: name });
        }
        target.batch("BEGIN")?;
        let copied = copy(&source, &target, &name, &tables);
        match copied {
            Ok(copied) => {
                target.batch("COMMIT")?;
                Ok((name, copied))
            }
            Err(e) => {
                let _ = target.batch("ROLLBACK");
                Err(e)
            }
        }
    })
}

fn copy(
    source: &Connection,
    target: &Db,
    name: &str,
    tables: &[String],
) -> Result<Vec<Copied>, StoreError> {
    let list = tables
        .iter()
        .map(|t| quote(t))
        .collect::<Vec<_>>()
        .join(", ");
    // Nobody writes beside the copy, and what is found empty stays empty.
    target.batch(&format!("LOCK TABLE {list} IN EXCLUSIVE MODE"))?;
    let mut held = Vec::new();
    for table in tables {
        let rows = count(target, table)?;
        if rows > 0 {
            held.push(format!("{table}: {rows} rows"));
        }
    }
    if !held.is_empty() {
        return Err(StoreError::TargetNotEmpty {
            target: name.to_owned(),
            tables: held.join(", "),
        });
    }
    let mut copied = Vec::new();
    for table in tables {
        let rows = copy_table(source, target, table)?;
        let landed = count(target, table)?;
        if landed != rows {
            return Err(StoreError::Corrupt(format!(
                "{table}: {rows} rows read but {landed} written"
            )));
        }
        copied.push(Copied {
            table: table.clone(),
            rows,
        });
    }
    // Ids were copied as they were: new rows must be numbered after them.
    let identities = target.query(
        "SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        vals![],
        |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
    )?;
    for (table, column) in identities {
        target.query_row(
            &format!(
                "SELECT setval(pg_get_serial_sequence(?1, ?2), MAX({})) IS NULL FROM {}",
                quote(&column),
                quote(&table)
            ),
            vals![quote(&table), column],
            |_| Ok(()),
        )?;
    }
    Ok(copied)
}

/// Copies one table's rows in INSERTs of many rows each; the number of rows.
fn copy_table(source: &Connection, target: &Db, table: &str) -> Result<u64, StoreError> {
    let columns: Vec<String> = source
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
        .query_map([table], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let names = columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let per_insert = (MAX_PARAMS / columns.len()).max(1);
    let mut read = source.prepare(&format!("SELECT {names} FROM {}", quote(table)))?;
    let mut rows = read.query([])?;
    let mut batch: Vec<Value> = Vec::with_capacity(per_insert * columns.len());
    let mut total = 0;
    let flush = |batch: &mut Vec<Value>| -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let tuples = (0..batch.len() / columns.len())
            .map(|row| {
                let marks = (1..=columns.len())
                    .map(|c| format!("?{}", row * columns.len() + c))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({marks})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        target.execute(
            &format!("INSERT INTO {} ({names}) VALUES {tuples}", quote(table)),
            batch,
        )?;
        batch.clear();
        Ok(())
    };
    while let Some(row) = rows.next()? {
        for (i, column) in columns.iter().enumerate() {
            batch.push(match row.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) => Value::Int(n),
                rusqlite::types::ValueRef::Real(f) => Value::Real(f),
                rusqlite::types::ValueRef::Text(t) => Value::Text(
                    String::from_utf8(t.to_vec())
                        .map_err(|_| StoreError::Corrupt(format!("{table}: text not UTF-8")))?,
                ),
                rusqlite::types::ValueRef::Blob(_) => {
                    return Err(StoreError::Corrupt(format!(
                        "{table}.{column}: a blob, which kaden never writes"
                    )));
                }
            });
        }
        total += 1;
        if batch.len() >= per_insert * columns.len() {
            flush(&mut batch)?;
        }
    }
    flush(&mut batch)?;
    Ok(total)
}

fn count(db: &Db, table: &str) -> Result<u64, StoreError> {
    Ok(db.query_row(
        &format!("SELECT COUNT(*) FROM {}", quote(table)),
        vals![],
        |r| r.get(0),
    )?)
}

/// The source's tables, each after every table its foreign keys refer to.
fn tables_in_order(source: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = source.prepare(
        "SELECT m.name, f.\"table\" FROM sqlite_master m
         LEFT JOIN pragma_foreign_key_list(m.name) f
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> ?1
         ORDER BY m.name",
    )?;
    let edges: Vec<(String, Option<String>)> = stmt
        .query_map([SKIPPED], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut pending: Vec<String> = edges.iter().map(|(t, _)| t.clone()).collect();
    pending.dedup();
    let mut ordered: Vec<String> = Vec::new();
    while !pending.is_empty() {
        let ready = |t: &String| {
            edges.iter().all(|(from, to)| {
                from != t || to.as_ref().is_none_or(|to| to == t || ordered.contains(to))
            })
        };
        let Some(i) = pending.iter().position(ready) else {
            return Err(StoreError::Corrupt(format!(
                "foreign keys in a cycle among {}",
                pending.join(", ")
            )));
        };
        ordered.push(pending.remove(i));
    }
    Ok(ordered)
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
