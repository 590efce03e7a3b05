//! The schema explorer at `/explorer`: static assets embedded in the binary and the JSON it reads.

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;

use crate::server::AppState;

/// The explorer's routes; `/` redirects to it.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/", get(|| async { Redirect::temporary("/explorer") }))
}
