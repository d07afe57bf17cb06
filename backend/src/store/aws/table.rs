//! The one data-access layer over the DynamoDB single table (DESIGN property 7): every key is
//! built from a [`Partition`], and a `Partition` can only be made from a [`TenantId`] (first
//! argument) and a record [`Kind`], so its key always reads `T#<tenant>#<KIND>[#<shard>]` and no
//! get, put, delete, update, query or transaction can name an item without a tenant. The only
//! tenant-less read is [`Table::list_tenant_items`] over the sparse `tenants` index, which holds
//! nothing but tenant records (`list_tenants`, setup and operations only). Helpers here also
//! map SDK errors to `StoreError` (a failed condition is a normal outcome, never an error) and
//! convert attributes.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use crate::error::StoreError;
use crate::store::StoreResult;

pub(super) use super::attrs::*;
pub(super) use super::keys::*;

/// Which sort keys a query reads.
#[derive(Debug, Clone, Copy)]
pub(super) enum Range<'a> {
    /// The whole partition.
    All,
    /// Sort keys starting with this prefix.
    Prefix(&'a str),
    /// Sort keys strictly greater than this one.
    After(&'a str),
    /// Sort keys strictly less than this one.
    Before(&'a str),
}

/// A write's condition.
#[derive(Debug, Clone)]
pub(super) enum Cond {
    /// Unconditional.
    None,
    /// The item must not exist.
    New,
    /// The item must exist.
    Exists,
    /// A condition expression with its name and value placeholders.
    Expr(
        String,
        Vec<(&'static str, &'static str)>,
        Vec<(&'static str, AttributeValue)>,
    ),
}

/// How a transaction ended.
#[derive(Debug)]
pub(super) enum TxOutcome {
    /// Every write applied.
    Committed,
    /// Nothing applied; per action: its cancellation code (`None` when it was not the cause)
    /// and, for a failed condition, the item as it was.
    Cancelled(Vec<(Option<String>, Option<Item>)>),
}

/// An update expression (`SET ...`) with its name and value placeholders.
#[derive(Debug, Clone)]
pub(super) struct Set {
    /// The expression.
    pub(super) expr: &'static str,
    /// `#name` placeholders.
    pub(super) names: Vec<(&'static str, &'static str)>,
    /// `:value` placeholders.
    pub(super) values: Vec<(&'static str, AttributeValue)>,
}

/// One write of a transaction.
#[derive(Debug)]
pub(super) enum TxWrite {
    /// A put with a condition.
    Put(Item, Cond),
    /// An update with a condition.
    Update(Partition, String, Set, Cond),
}

/// The table: a client built once, and the table name.
#[derive(Debug, Clone)]
pub(super) struct Table {
    client: Client,
    name: String,
}

/// A storage error for a failed SDK call, with the whole error chain.
pub(super) fn sdk_err(op: &str, e: impl std::error::Error) -> StoreError {
    StoreError::Backend(format!("{op}: {}", DisplayErrorContext(e)))
}

fn is_condition_failed<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .is_some_and(|se| se.code() == Some("ConditionalCheckFailedException"))
}

/// `(expression, names, values)` of a condition, with `#pk` bound.
type Parts = (
    Option<String>,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
);

fn cond_parts(cond: Cond) -> Parts {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let expr = match cond {
        Cond::None => None,
        Cond::New => {
            names.insert("#pk".to_string(), PK.to_string());
            Some("attribute_not_exists(#pk)".to_string())
        }
        Cond::Exists => {
            names.insert("#pk".to_string(), PK.to_string());
            Some("attribute_exists(#pk)".to_string())
        }
        Cond::Expr(e, n, v) => {
            names.insert("#pk".to_string(), PK.to_string());
            names.extend(n.into_iter().map(|(k, v)| (k.to_string(), v.to_string())));
            values.extend(v.into_iter().map(|(k, v)| (k.to_string(), v)));
            Some(e)
        }
    };
    // DynamoDB refuses unused placeholders: keep `#pk` only when the expression uses it.
    if !expr.as_deref().is_some_and(|e| e.contains("#pk")) {
        names.remove("#pk");
    }
    (expr, names, values)
}

fn set_parts(set: Set, cond: Cond) -> Parts {
    let (expr, mut names, mut values) = cond_parts(cond);
    names.extend(
        set.names
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    values.extend(set.values.into_iter().map(|(k, v)| (k.to_string(), v)));
    (expr, names, values)
}

fn non_empty<K, V>(m: HashMap<K, V>) -> Option<HashMap<K, V>> {
    (!m.is_empty()).then_some(m)
}

impl Table {
    /// Wraps a client built once by the adapter.
    pub(super) fn new(client: Client, name: String) -> Self {
        Self { client, name }
    }

    /// The raw client (table administration only: create, TTL, tests' scans).
    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// A new item holding only its key.
    pub(super) fn item(p: &Partition, sk: impl Into<String>) -> Item {
        let mut item = Item::new();
        item.insert(PK.into(), AttributeValue::S(p.key().to_string()));
        item.insert(SK.into(), AttributeValue::S(sk.into()));
        item
    }

    fn key(p: &Partition, sk: &str) -> Item {
        Self::item(p, sk)
    }

    /// A strongly consistent read of one item.
    pub(super) async fn get(&self, p: &Partition, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(Self::key(p, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        Ok(out.item)
    }

    /// A put; `Ok(false)` when its condition failed.
    pub(super) async fn put(&self, item: Item, cond: Cond) -> StoreResult<bool> {
        let (expr, names, values) = cond_parts(cond);
        let r = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .set_condition_expression(expr)
            .set_expression_attribute_names(non_empty(names))
            .set_expression_attribute_values(non_empty(values))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_err("PutItem", e)),
        }
    }

    /// Deletes an existing item and returns it, atomically: of concurrent callers exactly one
    /// gets `Some` (the condition `attribute_exists` fails for the others).
    pub(super) async fn take(&self, p: &Partition, sk: &str) -> StoreResult<Option<Item>> {
        let (expr, names, _) = cond_parts(Cond::Exists);
        let r = self
            .client
            .delete_item()
            .table_name(&self.name)
            .set_key(Some(Self::key(p, sk)))
            .set_condition_expression(expr)
            .set_expression_attribute_names(non_empty(names))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match r {
            Ok(out) => Ok(out.attributes),
            Err(e) if is_condition_failed(&e) => Ok(None),
            Err(e) => Err(sdk_err("DeleteItem", e)),
        }
    }

    /// An update; `Ok(false)` when the condition failed.
    pub(super) async fn update(
        &self,
        p: &Partition,
        sk: &str,
        set: Set,
        cond: Cond,
    ) -> StoreResult<bool> {
        let update_expr = set.expr;
        let (expr, names, vals) = set_parts(set, cond);
        let r = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(Self::key(p, sk)))
            .update_expression(update_expr)
            .set_condition_expression(expr)
            .set_expression_attribute_names(non_empty(names))
            .set_expression_attribute_values(non_empty(vals))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_err("UpdateItem", e)),
        }
    }

    /// A strongly consistent query of one partition, following pages until `limit` items
    /// (or the end).
    pub(super) async fn query(
        &self,
        p: &Partition,
        range: Range<'_>,
        forward: bool,
        limit: Option<u32>,
    ) -> StoreResult<Vec<Item>> {
        let mut values =
            HashMap::from([(":pk".to_string(), AttributeValue::S(p.key().to_string()))]);
        let key_cond = match range {
            Range::All => "pk = :pk",
            Range::Prefix(prefix) => {
                values.insert(":sk".into(), AttributeValue::S(prefix.into()));
                "pk = :pk AND begins_with(sk, :sk)"
            }
            Range::After(after) => {
                values.insert(":sk".into(), AttributeValue::S(after.into()));
                "pk = :pk AND sk > :sk"
            }
            Range::Before(before) => {
                values.insert(":sk".into(), AttributeValue::S(before.into()));
                "pk = :pk AND sk < :sk"
            }
        };
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let want = limit.map(|l| l as usize - out.len());
            let page = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression(key_cond)
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(forward)
                .consistent_read(true)
                .set_limit(want.map(|w| i32::try_from(w).unwrap_or(i32::MAX)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_err("Query", e))?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            let full = limit.is_some_and(|l| out.len() >= l as usize);
            if start.is_none() || full {
                return Ok(out);
            }
        }
    }

    /// Every item of a partition whose JSON body contains `needle`, filtered by DynamoDB (the
    /// whole partition is read, only matches are returned): rare operations only (erasure).
    pub(super) async fn query_body_containing(
        &self,
        p: &Partition,
        needle: &str,
    ) -> StoreResult<Vec<Item>> {
        let values = HashMap::from([
            (":pk".to_string(), AttributeValue::S(p.key().to_string())),
            (":n".to_string(), AttributeValue::S(needle.to_string())),
        ]);
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression("pk = :pk")
                .filter_expression("contains(#b, :n)")
                .expression_attribute_names("#b", BODY)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_err("Query (filtered)", e))?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// Deletes items unconditionally, 25 per `BatchWriteItem`, resending what DynamoDB left
    /// unprocessed (with back-off). Deleting an absent item is not an error.
    pub(super) async fn delete_many(&self, keys: &[(Partition, String)]) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        for chunk in keys.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|(p, sk)| {
                    DeleteRequest::builder()
                        .set_key(Some(Self::key(p, sk)))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| sdk_err("BatchWriteItem (delete)", e))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            for attempt in 0..10u32 {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.name, requests)
                    .send()
                    .await
                    .map_err(|e| sdk_err("BatchWriteItem", e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.name))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 9 {
                    return Err(StoreError::Backend(
                        "BatchWriteItem left items unprocessed after 10 attempts".into(),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(5))).await;
            }
        }
        Ok(())
    }

    /// Every tenant record, through the sparse `tenants` index (eventually consistent).
    pub(super) async fn list_tenant_items(&self) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.name)
                .index_name(TENANTS_INDEX)
                .key_condition_expression("#g = :g")
                .expression_attribute_names("#g", GSI_PK)
                .expression_attribute_values(":g", AttributeValue::S(TENANTS_GSI_PK.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_err("Query tenants index", e))?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// Applies `writes` atomically (TransactWriteItems).
    pub(super) async fn transact(&self, writes: Vec<TxWrite>) -> StoreResult<TxOutcome> {
        let mut items = Vec::with_capacity(writes.len());
        for w in writes {
            let item = match w {
                TxWrite::Put(item, cond) => {
                    let (expr, names, values) = cond_parts(cond);
                    let put = Put::builder()
                        .table_name(&self.name)
                        .set_item(Some(item))
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(non_empty(names))
                        .set_expression_attribute_values(non_empty(values))
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .map_err(|e| sdk_err("TransactWriteItems (put)", e))?;
                    TransactWriteItem::builder().put(put).build()
                }
                TxWrite::Update(partition, sk, set, cond) => {
                    let update_expr = set.expr;
                    let (expr, names, vals) = set_parts(set, cond);
                    let up = Update::builder()
                        .table_name(&self.name)
                        .set_key(Some(Self::key(&partition, &sk)))
                        .update_expression(update_expr)
                        .set_condition_expression(expr)
                        .set_expression_attribute_names(non_empty(names))
                        .set_expression_attribute_values(non_empty(vals))
                        .build()
                        .map_err(|e| sdk_err("TransactWriteItems (update)", e))?;
                    TransactWriteItem::builder().update(up).build()
                }
            };
            items.push(item);
        }
        let r = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match r {
            Ok(_) => Ok(TxOutcome::Committed),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    Ok(TxOutcome::Cancelled(
                        c.cancellation_reasons()
                            .iter()
                            .map(|r| {
                                let code = r.code().filter(|c| *c != "None").map(String::from);
                                (code, r.item.clone())
                            })
                            .collect(),
                    ))
                }
                Some(se)
                    if matches!(
                        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(se),
                        Some("TransactionConflictException" | "TransactionInProgressException")
                    ) =>
                {
                    Ok(TxOutcome::Cancelled(Vec::new()))
                }
                _ => Err(sdk_err("TransactWriteItems", e)),
            },
        }
    }
}
