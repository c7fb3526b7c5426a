//! The test host's `spin:postgres` reproduces Spin 4.0.2's behaviours
//! (DESIGN.md §3) against the real server.

use crate::support::TestDb;
use spin_test_host::bindings::spin::postgres4_0_0::postgres::{
    DbDataType, DbValue, Error as PgError, ParameterValue, QueryError,
};
use spin_test_host::postgres::{execute, query, ZERO_ROWS_MESSAGE};
use spin_test_host::Profile;

#[tokio::test]
async fn zero_row_query_fails_naming_the_spin_hang() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let client = db.host_client().await?;
    for profile in [Profile::Fast, Profile::Spin] {
        let err = query(&client, profile, "SELECT 1 WHERE false", vec![]).await.expect_err("zero rows must fail");
        match err {
            PgError::QueryFailed(QueryError::Text(msg)) => {
                assert_eq!(msg, ZERO_ROWS_MESSAGE);
                assert!(msg.contains("spinframework/spin#3671"));
            }
            other => panic!("{profile:?}: unexpected {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn timestamptz_column_fails_like_spin_but_text_and_timestamp_work() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let client = db.host_client().await?;
    for profile in [Profile::Fast, Profile::Spin] {
        let err = query(&client, profile, "SELECT now()", vec![]).await.expect_err("timestamptz must fail");
        let PgError::QueryFailed(QueryError::Text(msg)) = err else { panic!("{profile:?}: unexpected {err:?}") };
        assert!(msg.contains("NaiveDateTime") && msg.contains("timestamptz"), "{msg}");

        let rows = query(&client, profile, "SELECT now()::text AS t, now()::timestamp AS ts", vec![]).await.unwrap();
        assert_eq!(rows.columns[0].name, "t");
        assert!(matches!(rows.columns[1].data_type, DbDataType::Datetime));
        assert!(matches!(rows.rows[0][0], DbValue::Str(_)));
        assert!(matches!(rows.rows[0][1], DbValue::Datetime(_)));
    }
    Ok(())
}

#[tokio::test]
async fn parameters_and_values_round_trip() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let client = db.host_client().await?;
    let params = vec![
        ParameterValue::Str("o'neil; DROP TABLE x --".into()),
        ParameterValue::Int64(42),
        ParameterValue::Boolean(true),
        ParameterValue::Uuid("6f1c2a9e-5a0b-4d8e-9a77-0c7f1f0b2c11".into()),
        ParameterValue::Jsonb(br#"{"a":1}"#.to_vec()),
        ParameterValue::DbNull,
    ];
    let rows = query(&client, Profile::Fast, "SELECT $1::text, $2::int8, $3::bool, $4::uuid, $5::jsonb, $6::text", params)
        .await
        .unwrap();
    let row = &rows.rows[0];
    assert!(matches!(&row[0], DbValue::Str(s) if s == "o'neil; DROP TABLE x --"));
    assert!(matches!(row[1], DbValue::Int64(42)));
    assert!(matches!(row[2], DbValue::Boolean(true)));
    assert!(matches!(&row[3], DbValue::Uuid(u) if u == "6f1c2a9e-5a0b-4d8e-9a77-0c7f1f0b2c11"));
    assert!(matches!(&row[4], DbValue::Jsonb(j) if j == br#"{"a":1}"#));
    assert!(matches!(row[5], DbValue::DbNull));
    Ok(())
}

#[tokio::test]
async fn database_errors_are_structured_and_bad_parameters_named() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let client = db.host_client().await?;
    let err = execute(&client, Profile::Fast, "INSERT INTO missing_table VALUES (1)", vec![]).await.expect_err("no table");
    match err {
        PgError::QueryFailed(QueryError::DbError(e)) => {
            assert_eq!(e.code, "42P01");
            assert_eq!(e.severity, "ERROR");
            assert!(e.message.contains("missing_table"), "{}", e.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = query(&client, Profile::Fast, "SELECT $1::uuid", vec![ParameterValue::Uuid("not-a-uuid".into())]).await.unwrap_err();
    assert!(matches!(&err, PgError::BadParameter(m) if m.contains("invalid UUID")), "{err:?}");
    let err = execute(&client, Profile::Fast, "SELECT $1::uuid", vec![ParameterValue::Uuid("nope".into())]).await.unwrap_err();
    assert!(matches!(&err, PgError::ValueConversionFailed(m) if m.contains("invalid UUID")), "{err:?}");
    assert_eq!(execute(&client, Profile::Fast, "CREATE TABLE t (id int)", vec![]).await.unwrap(), 0);
    assert_eq!(execute(&client, Profile::Fast, "INSERT INTO t VALUES (1), (2)", vec![]).await.unwrap(), 2);
    Ok(())
}

#[tokio::test]
async fn statements_are_prepared_once_per_connection_and_survive_schema_changes() -> anyhow::Result<()> {
    let db = TestDb::create().await?;
    let client = db.host_client().await?;
    execute(&client, Profile::Fast, "CREATE TABLE t (id int)", vec![]).await.unwrap();
    for id in 1..=3 {
        execute(&client, Profile::Fast, "INSERT INTO t VALUES ($1)", vec![ParameterValue::Int32(id)]).await.unwrap();
    }
    assert_eq!(client.statement_cache.size(), 2, "the insert is prepared once, not per call");
    assert_eq!(query(&client, Profile::Fast, "SELECT * FROM t", vec![]).await.unwrap().columns.len(), 1);

    // The cached plan of `SELECT *` no longer matches the table's row type:
    // the server refuses it and the host prepares it again.
    execute(&client, Profile::Fast, "ALTER TABLE t ADD COLUMN name text DEFAULT 'x'", vec![]).await.unwrap();
    let rows = query(&client, Profile::Fast, "SELECT * FROM t", vec![]).await.unwrap();
    assert_eq!((rows.columns.len(), rows.rows.len()), (2, 3));

    // A guest that drops every prepared statement does not break the cache.
    execute(&client, Profile::Fast, "DEALLOCATE ALL", vec![]).await.unwrap();
    let rows = query(&client, Profile::Fast, "SELECT * FROM t", vec![]).await.unwrap();
    assert_eq!(rows.rows.len(), 3);
    assert_eq!(execute(&client, Profile::Fast, "INSERT INTO t VALUES ($1)", vec![ParameterValue::Int32(4)]).await.unwrap(), 1);
    Ok(())
}
