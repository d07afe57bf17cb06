//! Converting DynamoDB attributes: typed reads that fail with a clear `StoreError` on a
//! malformed item, the JSON body, expiry and zero-padded sort keys.

use std::fmt::Display;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::{BODY, EXP, Item, TTL};
use crate::error::StoreError;
use crate::store::StoreResult;

/// A String attribute.
pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A Number attribute.
pub(super) fn n(v: impl Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn missing(name: &str) -> StoreError {
    StoreError::Backend(format!(
        "stored item lacks a well-formed `{name}` attribute"
    ))
}

/// A String attribute of an item.
pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(missing(name)),
    }
}

/// A Number attribute of an item.
pub(super) fn get_n<T: FromStr>(item: &Item, name: &str) -> StoreResult<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| missing(name)),
        _ => Err(missing(name)),
    }
}

/// A Number attribute of an item, if present.
pub(super) fn opt_n<T: FromStr>(item: &Item, name: &str) -> StoreResult<Option<T>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => get_n(item, name).map(Some),
    }
}

/// A Binary attribute of an item, if present.
pub(super) fn opt_b(item: &Item, name: &str) -> StoreResult<Option<Vec<u8>>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::B(b)) => Ok(Some(b.as_ref().to_vec())),
        Some(_) => Err(missing(name)),
    }
}

/// Stores `v` as the item's JSON body.
pub(super) fn set_body<T: Serialize>(item: &mut Item, v: &T) -> StoreResult<()> {
    item.insert(BODY.into(), AttributeValue::S(serde_json::to_string(v)?));
    Ok(())
}

/// The item's JSON body.
pub(super) fn body<T: DeserializeOwned>(item: &Item) -> StoreResult<T> {
    Ok(serde_json::from_str(get_s(item, BODY)?)?)
}

/// Marks an item as expiring at `exp_ms`: `exp` (checked on read) and `ttl` (seconds, rounded
/// up, for DynamoDB's lazy TTL deletion).
pub(super) fn set_expiry(item: &mut Item, exp_ms: i64) {
    item.insert(EXP.into(), n(exp_ms));
    item.insert(TTL.into(), n(exp_ms.div_euclid(1000) + 1));
}

/// Whether an item carries an expiry at or before `now_ms`.
pub(super) fn expired(item: &Item, now_ms: i64) -> StoreResult<bool> {
    Ok(opt_n::<i64>(item, EXP)?.is_some_and(|e| e <= now_ms))
}

/// A sort key for a number, zero-padded so that string order is numeric order.
pub(super) fn pad(v: u64) -> String {
    format!("{v:020}")
}
