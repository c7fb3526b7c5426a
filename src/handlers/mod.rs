//! One module per endpoint.

pub mod health;
pub mod test_db;

use crate::config::{ConfigError, DatabaseUrl};
use crate::errors::Unavailable;
use crate::store::Store;

/// Opens the database named by `database_url`.
pub(crate) fn open_store() -> Result<Store, Unavailable> {
    let url = database_url().map_err(Unavailable::Misconfigured)?;
    Store::open(url)
}

#[cfg(target_arch = "wasm32")]
fn database_url() -> Result<DatabaseUrl, ConfigError> {
    DatabaseUrl::from_source(&crate::config::SpinVariables)
}

/// Natively there is no Spin host to ask.
#[cfg(not(target_arch = "wasm32"))]
fn database_url() -> Result<DatabaseUrl, ConfigError> {
    Err(ConfigError { variable: DatabaseUrl::VARIABLE, problem: "needs a Spin host".into() })
}
