//! The BigQuery calls Slate makes, each retried when the failure is
//! transient (`retry`).
//!
//! Datasets, tables and queries go through gcp-bigquery-client. Loads go
//! as multipart uploads of newline-delimited JSON, which that client does
//! not offer, over the same HTTP client and token. A query that fails is
//! an error even when the service answers 200 with `errors` (the emulator
//! does); a load job that fails reports every entry of its `errors[]`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use gcp_bigquery_client::Client;
use gcp_bigquery_client::auth::Authenticator;
use gcp_bigquery_client::error::BQError;
use gcp_bigquery_client::model::dataset::Dataset;
use gcp_bigquery_client::model::error_proto::ErrorProto;
use gcp_bigquery_client::model::get_query_results_parameters::GetQueryResultsParameters;
use gcp_bigquery_client::model::job::Job;
use gcp_bigquery_client::model::query_parameter::QueryParameter;
use gcp_bigquery_client::model::query_parameter_type::QueryParameterType;
use gcp_bigquery_client::model::query_parameter_value::QueryParameterValue;
use gcp_bigquery_client::model::query_request::QueryRequest;
use gcp_bigquery_client::model::table::Table;
use gcp_bigquery_client::model::table_field_schema::TableFieldSchema;
use gcp_bigquery_client::model::table_row::TableRow;
use gcp_bigquery_client::model::table_schema::TableSchema as BqSchema;
use gcp_bigquery_client::table::ListOptions as TableListOptions;
use serde_json::Value as Json;

use super::retry::{CallFailure, RetryPolicy};

/// A failed BigQuery call or load.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// A call failed (after its retries, when transient).
    #[error("BigQuery {what} failed: {}", .failure.message)]
    Call {
        /// What was being done, e.g. `query`.
        what: String,
        /// The last failure.
        failure: CallFailure,
    },
    /// A load job ran and failed; every error it reported.
    #[error(
        "loading {rows} rows into {table} failed with {} {}: {}",
        .errors.len(),
        if .errors.len() == 1 { "error" } else { "errors" },
        .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    Load {
        /// The destination, `dataset.table`.
        table: String,
        /// Rows sent.
        rows: usize,
        /// The job's `errors[]`.
        errors: Vec<JobError>,
    },
    /// A load job did not finish in the time a load may take; it was
    /// cancelled (or asked to be), so it cannot land later.
    #[error(
        "loading {rows} rows into {table}: the load job {job_id} did not finish within {} s; \
         it was cancelled",
        .waited.as_secs_f64()
    )]
    LoadUnfinished {
        /// The destination, `dataset.table`.
        table: String,
        /// Rows sent.
        rows: usize,
        /// The job's id.
        job_id: String,
        /// How long it was waited for.
        waited: Duration,
    },
}

impl ApiError {
    /// The HTTP status of a failed call, if it had one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Call { failure, .. } => failure.status,
            ApiError::Load { .. } | ApiError::LoadUnfinished { .. } => None,
        }
    }
}

/// One entry of a job's `errors[]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JobError {
    /// E.g. `invalid`.
    pub reason: String,
    /// Where, e.g. a file and line, or a field.
    pub location: String,
    /// What the service said.
    pub message: String,
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}]", self.reason)?;
        if !self.location.is_empty() {
            write!(f, " at {}", self.location)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl From<&ErrorProto> for JobError {
    fn from(error: &ErrorProto) -> Self {
        JobError {
            reason: error.reason.clone().unwrap_or_default(),
            location: error.location.clone().unwrap_or_default(),
            message: error.message.clone().unwrap_or_default(),
        }
    }
}

/// A typed query parameter.
#[derive(Debug, Clone)]
pub enum Param {
    /// STRING.
    String(String),
    /// INT64.
    Int64(i64),
    /// DATE.
    Date(NaiveDate),
    /// TIMESTAMP.
    Timestamp(DateTime<Utc>),
    /// `ARRAY<STRING>`.
    Strings(Vec<String>),
    /// `ARRAY<DATE>`.
    Dates(Vec<NaiveDate>),
}

impl Param {
    fn to_query_parameter(&self, name: &str) -> QueryParameter {
        let scalar = |type_name: &str| QueryParameterType {
            r#type: type_name.to_string(),
            array_type: None,
            struct_types: None,
        };
        let value = |text: String| QueryParameterValue {
            value: Some(text),
            array_values: None,
            struct_values: None,
        };
        let array = |type_name: &str, items: Vec<String>| {
            (
                QueryParameterType {
                    r#type: "ARRAY".into(),
                    array_type: Some(Box::new(scalar(type_name))),
                    struct_types: None,
                },
                QueryParameterValue {
                    value: None,
                    array_values: Some(items.into_iter().map(value).collect()),
                    struct_values: None,
                },
            )
        };
        let (parameter_type, parameter_value) = match self {
            Param::String(s) => (scalar("STRING"), value(s.clone())),
            Param::Int64(v) => (scalar("INT64"), value(v.to_string())),
            Param::Date(d) => (scalar("DATE"), value(d.to_string())),
            Param::Timestamp(t) => (
                scalar("TIMESTAMP"),
                value(t.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()),
            ),
            Param::Strings(items) => array("STRING", items.clone()),
            Param::Dates(items) => array("DATE", items.iter().map(|d| d.to_string()).collect()),
        };
        QueryParameter {
            name: Some(name.to_string()),
            parameter_type: Some(parameter_type),
            parameter_value: Some(parameter_value),
        }
    }
}

/// The rows of a query (each a list of `v` cells) or its DML count.
#[derive(Debug, Default)]
pub struct QueryResult {
    /// Result rows, cells in select order.
    pub rows: Vec<Vec<Option<Json>>>,
    /// For DML: rows inserted, updated or deleted.
    pub dml_affected: Option<u64>,
}

/// A BigQuery project reached through one client.
#[derive(Clone)]
pub struct Api {
    client: Client,
    http: reqwest::Client,
    auth: Arc<dyn Authenticator>,
    project: String,
    location: Option<String>,
    upload_base: String,
    retry: RetryPolicy,
    /// How long a load job may take, from its upload to its end.
    load_deadline: Duration,
}

/// How long a load job may take, from its upload to its end, before it is
/// cancelled and its load fails: a chunk's rows load in seconds; a job
/// still pending after this waits on a BigQuery that will not run it.
pub const LOAD_JOB_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// How often a running load job is asked whether it is done.
const LOAD_JOB_POLL: Duration = Duration::from_millis(250);

/// How long one HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a connection may take to open: an address that drops the
/// packets fails a try in seconds, not at the request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows per page of query results.
const PAGE_ROWS: i32 = 50_000;

impl Api {
    /// A client for `project` at `endpoint` (e.g.
    /// `https://bigquery.googleapis.com` or an emulator's address).
    pub async fn connect(
        endpoint: &str,
        project: &str,
        location: Option<String>,
        auth: Arc<dyn Authenticator>,
        retry: RetryPolicy,
    ) -> Result<Api, BQError> {
        let endpoint = endpoint.trim_end_matches('/');
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        let client = gcp_bigquery_client::client_builder::ClientBuilder::new()
            .with_v2_base_url(format!("{endpoint}/bigquery/v2"))
            .with_client(http.clone())
            .build_from_authenticator(auth.clone())
            .await?;
        Ok(Api {
            client,
            http,
            auth,
            project: project.to_string(),
            location,
            upload_base: format!("{endpoint}/upload/bigquery/v2"),
            retry,
            load_deadline: LOAD_JOB_DEADLINE,
        })
    }

    /// The project.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The labels of `dataset`, or `None` when it does not exist.
    pub async fn dataset_labels(
        &self,
        dataset: &str,
    ) -> Result<Option<HashMap<String, String>>, ApiError> {
        let found = self
            .call("get dataset", || {
                self.client.dataset().get(&self.project, dataset)
            })
            .await;
        match found {
            Ok(found) => Ok(Some(found.labels.unwrap_or_default())),
            Err(error) if error.status() == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates `dataset` with the label `key` set to `value`; `false` when
    /// it exists already.
    pub async fn create_dataset(
        &self,
        dataset: &str,
        (key, value): (&str, &str),
    ) -> Result<bool, ApiError> {
        let created = self
            .call("create dataset", || {
                let mut new = Dataset::new(&self.project, dataset).label(key, value);
                if let Some(location) = &self.location {
                    new = new.location(location);
                }
                self.client.dataset().create(new)
            })
            .await;
        match created {
            Err(error) if error.status() == Some(409) => Ok(false),
            other => other.map(|_| true),
        }
    }

    /// Sets the label `key` of `dataset` to `value`.
    pub async fn label_dataset(
        &self,
        dataset: &str,
        (key, value): (&str, &str),
    ) -> Result<(), ApiError> {
        self.call("label dataset", || {
            let labelled = Dataset::new(&self.project, dataset).label(key, value);
            self.client
                .dataset()
                .patch(&self.project, dataset, labelled)
        })
        .await
        .map(|_| ())
    }

    /// The table, or `None` when it does not exist.
    pub async fn get_table(&self, dataset: &str, table: &str) -> Result<Option<Table>, ApiError> {
        let found = self
            .call("get table", || {
                self.client.table().get(&self.project, dataset, table, None)
            })
            .await;
        match found {
            Ok(table) => Ok(Some(table)),
            Err(error) if error.status() == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates a table; `Ok(false)` when it already existed.
    pub async fn create_table(&self, table: Table) -> Result<bool, ApiError> {
        let created = self
            .call("create table", || self.client.table().create(table.clone()))
            .await;
        match created {
            Ok(_) => Ok(true),
            Err(error) if error.status() == Some(409) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Appends NULLABLE `added` columns to a live table whose fields are
    /// `live`. `ALTER TABLE` changes the stored table, the patch the
    /// catalog; the emulator needs both, and BigQuery takes both.
    pub async fn add_columns(
        &self,
        dataset: &str,
        table: &str,
        live: Vec<TableFieldSchema>,
        added: Vec<TableFieldSchema>,
    ) -> Result<(), ApiError> {
        let additions: Vec<String> = added
            .iter()
            .map(|field| {
                format!(
                    "ADD COLUMN IF NOT EXISTS `{}` {}",
                    field.name,
                    serde_json::to_value(&field.r#type)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                )
            })
            .collect();
        self.query(
            &format!("ALTER TABLE `{dataset}.{table}` {}", additions.join(", ")),
            &[],
        )
        .await?;
        let mut fields = live;
        fields.extend(added);
        let mut patch = Table::new(&self.project, dataset, table, BqSchema::new(fields));
        patch.time_partitioning = None;
        self.call("patch table", || {
            self.client
                .table()
                .patch(&self.project, dataset, table, patch.clone())
        })
        .await?;
        Ok(())
    }

    /// The names of every table in `dataset`; none when it does not exist.
    pub async fn list_tables(&self, dataset: &str) -> Result<Vec<String>, ApiError> {
        let mut names = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let listed = self
                .call("list tables", || {
                    let options = match &page_token {
                        Some(token) => TableListOptions::default().page_token(token.clone()),
                        None => TableListOptions::default(),
                    };
                    self.client.table().list(&self.project, dataset, options)
                })
                .await;
            let page = match listed {
                Ok(page) => page,
                Err(error) if error.status() == Some(404) => return Ok(names),
                Err(error) => return Err(error),
            };
            names.extend(
                page.tables
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| t.table_reference.table_id),
            );
            match page.next_page_token {
                Some(token) if !token.is_empty() => page_token = Some(token),
                _ => return Ok(names),
            }
        }
    }

    /// Deletes a table; a missing one is fine.
    pub async fn delete_table(&self, dataset: &str, table: &str) -> Result<(), ApiError> {
        match self
            .call("delete table", || {
                self.client.table().delete(&self.project, dataset, table)
            })
            .await
        {
            Err(error) if error.status() != Some(404) => Err(error),
            _ => Ok(()),
        }
    }

    /// Runs a GoogleSQL query or script with named parameters, waiting for
    /// it and reading every page of its rows.
    pub async fn query(
        &self,
        sql: &str,
        params: &[(&str, Param)],
    ) -> Result<QueryResult, ApiError> {
        let mut request = QueryRequest::new(sql);
        request.location = self.location.clone();
        request.max_results = Some(PAGE_ROWS);
        request.timeout_ms = Some(60_000);
        // The same for every try: BigQuery runs a statement whose answer
        // was lost once, however often it is sent again (within 15 min).
        request.request_id = Some(uuid::Uuid::now_v7().to_string());
        if !params.is_empty() {
            request.parameter_mode = Some("NAMED".into());
            request.query_parameters = Some(
                params
                    .iter()
                    .map(|(name, param)| param.to_query_parameter(name))
                    .collect(),
            );
        }
        let response = self
            .call("query", || {
                self.client.job().query(&self.project, request.clone())
            })
            .await?;
        query_errors("query", sql, response.errors.as_deref())?;
        let mut result = QueryResult {
            rows: cells(response.rows),
            dml_affected: response
                .num_dml_affected_rows
                .as_deref()
                .and_then(|n| n.parse().ok()),
        };
        let mut complete = response.job_complete.unwrap_or(true);
        let mut page_token = response.page_token;
        let job_id = response.job_reference.and_then(|j| j.job_id);
        while !complete || page_token.is_some() {
            let Some(job_id) = job_id.as_deref() else {
                break;
            };
            let parameters = GetQueryResultsParameters {
                format_options: None,
                location: self.location.clone(),
                max_results: Some(PAGE_ROWS),
                page_token: page_token.clone(),
                start_index: None,
                timeout_ms: Some(60_000),
            };
            let page = self
                .call("get query results", || {
                    self.client
                        .job()
                        .get_query_results(&self.project, job_id, parameters.clone())
                })
                .await?;
            query_errors("query", sql, page.errors.as_deref())?;
            complete = page.job_complete.unwrap_or(true);
            if !complete {
                continue;
            }
            result.rows.extend(cells(page.rows));
            if result.dml_affected.is_none() {
                result.dml_affected = page
                    .num_dml_affected_rows
                    .as_deref()
                    .and_then(|n| n.parse().ok());
            }
            page_token = page.page_token;
        }
        Ok(result)
    }

    /// Loads newline-delimited JSON into `dataset.table` (created with
    /// `fields` if missing, its rows replaced otherwise) by a multipart
    /// upload, and waits for the job, at most [`LOAD_JOB_DEADLINE`]. A
    /// failed job reports its whole `errors[]`.
    pub async fn load_ndjson(
        &self,
        dataset: &str,
        table: &str,
        fields: &[TableFieldSchema],
        rows: usize,
        ndjson: Vec<u8>,
    ) -> Result<(), ApiError> {
        // An id of its own: a retried upload whose first answer was lost
        // names the same job, which BigQuery refuses to make twice (409),
        // so the rows are never loaded twice. The table is a staging
        // table this load alone fills, so a second job (a service that
        // took the id again) replaces its rows rather than adding to them.
        let job_id = format!("slate_load_{}", uuid::Uuid::now_v7().simple());
        let configuration = serde_json::json!({
            "configuration": {
                "load": {
                    "sourceFormat": "NEWLINE_DELIMITED_JSON",
                    "destinationTable": {
                        "projectId": self.project,
                        "datasetId": dataset,
                        "tableId": table,
                    },
                    "schema": {"fields": fields},
                    "createDisposition": "CREATE_IF_NEEDED",
                    "writeDisposition": "WRITE_TRUNCATE",
                }
            },
            "jobReference": {
                "projectId": self.project,
                "jobId": job_id,
                "location": self.location,
            }
        });
        let started = tokio::time::Instant::now();
        let boundary = format!("slate-{}", uuid::Uuid::now_v7().simple());
        let mut body = Vec::with_capacity(ndjson.len() + 1024);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{configuration}\r\n\
                 --{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&ndjson);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let url = format!(
            "{}/projects/{}/jobs?uploadType=multipart",
            self.upload_base, self.project
        );
        let content_type = format!("multipart/related; boundary={boundary}");
        // `None`: an earlier try made the job, its answer lost.
        let mut job: Option<Job> = self
            .retry
            .run("load upload", || async {
                let token = self.auth.access_token().await.map_err(failure_of)?;
                let response = self
                    .http
                    .post(&url)
                    .bearer_auth(token)
                    .header(reqwest::header::CONTENT_TYPE, &content_type)
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| failure_of(BQError::RequestError(e)))?;
                let status = response.status();
                let text = response
                    .text()
                    .await
                    .map_err(|e| failure_of(BQError::RequestError(e)))?;
                if status == reqwest::StatusCode::CONFLICT {
                    return Ok(None);
                }
                if !status.is_success() {
                    return Err(failure_of_body(status.as_u16(), &text));
                }
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| CallFailure {
                        status: Some(status.as_u16()),
                        reasons: vec![],
                        message: format!("unreadable load job: {e}: {text}"),
                        no_response: false,
                    })
            })
            .await
            .map_err(|failure| ApiError::Call {
                what: "load upload".into(),
                failure,
            })?;
        let job_id = job
            .as_ref()
            .and_then(|job| job.job_reference.as_ref())
            .and_then(|reference| reference.job_id.clone())
            .unwrap_or(job_id);
        let done = |job: &Option<Job>| {
            job.as_ref().is_some_and(|job| {
                job.status.as_ref().and_then(|s| s.state.as_deref()) == Some("DONE")
            })
        };
        while !done(&job) {
            if started.elapsed() >= self.load_deadline {
                let cancelled = self
                    .client
                    .job()
                    .cancel_job(&self.project, &job_id, self.location.as_deref())
                    .await;
                if let Err(error) = cancelled {
                    tracing::warn!(%job_id, "could not cancel an unfinished load job: {error}");
                }
                return Err(ApiError::LoadUnfinished {
                    table: format!("{dataset}.{table}"),
                    rows,
                    job_id,
                    waited: self.load_deadline,
                });
            }
            if job.is_some() {
                tokio::time::sleep(LOAD_JOB_POLL.min(self.load_deadline)).await;
            }
            job = Some(
                self.call("get load job", || {
                    self.client
                        .job()
                        .get_job(&self.project, &job_id, self.location.as_deref())
                })
                .await?,
            );
        }
        let job = job.unwrap_or_default();
        let status = job.status.unwrap_or_default();
        if status.error_result.is_none() {
            return Ok(());
        }
        let mut errors: Vec<JobError> = status
            .errors
            .unwrap_or_default()
            .iter()
            .map(JobError::from)
            .collect();
        if errors.is_empty()
            && let Some(result) = &status.error_result
        {
            errors.push(JobError::from(result));
        }
        Err(ApiError::Load {
            table: format!("{dataset}.{table}"),
            rows,
            errors,
        })
    }

    /// One call through the client, retried while its failure is transient.
    async fn call<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, BQError>>,
    {
        self.retry
            .run(what, || {
                let future = call();
                async move { future.await.map_err(failure_of) }
            })
            .await
            .map_err(|failure| ApiError::Call {
                what: what.to_string(),
                failure,
            })
    }
}

/// A query's `errors` (the emulator answers 200 with them) as a failure.
fn query_errors(what: &str, sql: &str, errors: Option<&[ErrorProto]>) -> Result<(), ApiError> {
    let Some(errors) = errors.filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    let listed: Vec<String> = errors
        .iter()
        .map(|e| JobError::from(e).to_string())
        .collect();
    let first_line = sql.lines().map(str::trim).find(|l| !l.is_empty());
    Err(ApiError::Call {
        what: what.to_string(),
        failure: CallFailure {
            status: Some(400),
            reasons: errors.iter().filter_map(|e| e.reason.clone()).collect(),
            message: format!(
                "{} (in `{}`)",
                listed.join("; "),
                first_line.unwrap_or_default()
            ),
            no_response: false,
        },
    })
}

fn cells(rows: Option<Vec<TableRow>>) -> Vec<Vec<Option<Json>>> {
    rows.unwrap_or_default()
        .into_iter()
        .map(|row| {
            row.columns
                .unwrap_or_default()
                .into_iter()
                .map(|cell| cell.value)
                .collect()
        })
        .collect()
}

/// What a client error says about retrying.
fn failure_of(error: BQError) -> CallFailure {
    match error {
        BQError::ResponseError { error } => CallFailure {
            status: u16::try_from(error.error.code).ok(),
            reasons: error
                .error
                .errors
                .iter()
                .filter_map(|e| e.get("reason").cloned())
                .collect(),
            message: error.error.message,
            no_response: false,
        },
        BQError::RequestError(error) => CallFailure {
            status: error.status().map(|s| s.as_u16()),
            reasons: vec![],
            no_response: error.is_connect() || error.is_timeout() || error.is_request(),
            message: error_chain(&error),
        },
        other => CallFailure {
            status: None,
            reasons: vec![],
            message: other.to_string(),
            no_response: false,
        },
    }
}

/// A non-2xx response body: Google's error JSON, or whatever came.
fn failure_of_body(status: u16, body: &str) -> CallFailure {
    let json: Option<Json> = serde_json::from_str(body).ok();
    let error = json.as_ref().and_then(|j| j.get("error"));
    CallFailure {
        status: Some(status),
        reasons: error
            .and_then(|e| e.get("errors"))
            .and_then(Json::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e.get("reason").and_then(Json::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        message: error
            .and_then(|e| e.get("message"))
            .and_then(Json::as_str)
            .map_or_else(|| format!("HTTP {status}: {body}"), str::to_string),
        no_response: false,
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A loopback HTTP server that answers each request with the next of
    /// `responses` (status, JSON body) and counts the requests: the faults a
    /// real service has and an emulator cannot be made to have.
    fn faulty_service(responses: Vec<(u16, &'static str)>) -> (String, Arc<AtomicUsize>) {
        let served = Arc::new(AtomicUsize::new(0));
        let counter = served.clone();
        let address = scripted_service(responses, move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        (address, served)
    }

    /// [`faulty_service`], sending each request it answered (its request
    /// line, then its body) down the channel it returns.
    fn recording_service(
        responses: Vec<(u16, &'static str)>,
    ) -> (String, std::sync::mpsc::Receiver<String>) {
        let (sender, requests) = std::sync::mpsc::channel();
        let address = scripted_service(responses, move |request| {
            let _ = sender.send(request);
        });
        (address, requests)
    }

    /// A loopback HTTP server answering each request with the next of
    /// `responses`, once `seen` has had the request (its request line,
    /// then its body): what a client reads after its answer is counted.
    fn scripted_service(
        responses: Vec<(u16, &'static str)>,
        mut seen: impl FnMut(String) + Send + 'static,
    ) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for (stream, (status, body)) in listener.incoming().zip(responses) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap();
                    }
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                }
                let mut request_body = vec![0; length];
                reader.read_exact(&mut request_body).unwrap();
                seen(format!(
                    "{request_line}{}",
                    String::from_utf8_lossy(&request_body)
                ));
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
        });
        address
    }

    const UNAVAILABLE: &str = r#"{"error":{"code":503,"message":"Service Unavailable","errors":[{"reason":"backendError","message":"x"}],"status":"UNAVAILABLE"}}"#;
    const RATE_LIMITED: &str = r#"{"error":{"code":429,"message":"Too many requests","errors":[{"reason":"rateLimitExceeded","message":"x"}],"status":"RESOURCE_EXHAUSTED"}}"#;
    const DENIED: &str = r#"{"error":{"code":403,"message":"Access Denied: Dataset test-project:nba","errors":[{"reason":"accessDenied","message":"x"}],"status":"PERMISSION_DENIED"}}"#;
    const DATASET: &str = r#"{"datasetReference":{"projectId":"test-project","datasetId":"nba"}}"#;

    /// A client of `endpoint` whose calls retry quickly, each call given up
    /// after `deadline`.
    fn api_with_deadline(
        endpoint: &str,
        runtime: &tokio::runtime::Runtime,
        deadline: Duration,
    ) -> Api {
        let retry = RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(5),
            max: Duration::from_millis(20),
            deadline,
        };
        runtime
            .block_on(async {
                let auth =
                    super::super::auth::authenticator(&super::super::auth::Credentials::Emulator)
                        .await?;
                Api::connect(endpoint, "test-project", None, auth, retry).await
            })
            .unwrap()
    }

    fn api(endpoint: &str, runtime: &tokio::runtime::Runtime) -> Api {
        api_with_deadline(endpoint, runtime, RetryPolicy::default().deadline)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn transient_http_failures_are_retried_until_the_call_succeeds() {
        let (endpoint, served) = faulty_service(vec![
            (503, UNAVAILABLE),
            (429, RATE_LIMITED),
            (200, DATASET),
        ]);
        let runtime = runtime();
        let api = api(&endpoint, &runtime);
        runtime.block_on(api.dataset_labels("nba")).unwrap();
        assert_eq!(served.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_permanent_failure_is_not_retried_and_names_the_cause() {
        let (endpoint, served) = faulty_service(vec![(403, DENIED), (200, DATASET)]);
        let runtime = runtime();
        let api = api(&endpoint, &runtime);
        let error = runtime.block_on(api.dataset_labels("nba")).unwrap_err();
        assert_eq!(served.load(Ordering::SeqCst), 1);
        assert_eq!(error.status(), Some(403));
        assert_eq!(
            error.to_string(),
            "BigQuery get dataset failed: Access Denied: Dataset test-project:nba"
        );
    }

    /// A service that takes connections and never answers (a BigQuery
    /// frozen, or a proxy holding requests) fails a call at its deadline,
    /// saying so, and as no response: before, each call waited out five
    /// tries of the 120 s request timeout.
    #[test]
    fn a_service_that_never_answers_fails_the_call_at_its_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                held.push(stream);
            }
        });
        let runtime = runtime();
        let api = api_with_deadline(&endpoint, &runtime, Duration::from_millis(500));
        let started = std::time::Instant::now();
        let error = runtime.block_on(api.dataset_labels("nba")).unwrap_err();
        let ApiError::Call { failure, .. } = &error else {
            panic!("{error}");
        };
        assert!(failure.no_response, "{error}");
        assert_eq!(
            error.to_string(),
            "BigQuery get dataset failed: no answer within 0.5 s (1 try): BigQuery takes the \
             connection but does not answer"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            started.elapsed()
        );
    }

    const JOB_EXISTS: &str = r#"{"error":{"code":409,"message":"Already Exists: Job test-project:slate_load_x","errors":[{"reason":"duplicate","message":"x"}],"status":"ALREADY_EXISTS"}}"#;
    const JOB_RUNNING: &str = r#"{"status":{"state":"RUNNING"}}"#;
    const JOB_DONE: &str = r#"{"status":{"state":"DONE"}}"#;

    /// The `jobId` a load upload's configuration names.
    fn job_id_of(upload: &str) -> String {
        let at = upload.find("\"jobId\":\"").expect("a job id") + 9;
        upload[at..].split('"').next().unwrap().to_string()
    }

    /// An upload whose answer is lost (a 503 after BigQuery made the job)
    /// is tried again under the same job id: BigQuery answers that the job
    /// exists, and the load waits for that one job. Before, each try made
    /// a job of its own, and the chunk's rows were loaded twice.
    #[test]
    fn a_load_upload_tried_again_names_the_same_job_and_loads_once() {
        let (endpoint, requests) =
            recording_service(vec![(503, UNAVAILABLE), (409, JOB_EXISTS), (200, JOB_DONE)]);
        let runtime = runtime();
        let api = api(&endpoint, &runtime);
        let loaded = runtime.block_on(api.load_ndjson("nba", "t", &[], 1, b"{}".to_vec()));
        assert!(loaded.is_ok(), "{loaded:?}");
        let requests: Vec<String> = requests.try_iter().collect();
        assert_eq!(requests.len(), 3, "{requests:#?}");
        let (first, second) = (job_id_of(&requests[0]), job_id_of(&requests[1]));
        assert!(first.starts_with("slate_load_"), "{first}");
        assert_eq!(first, second, "both tries name one job");
        assert!(
            requests[2].starts_with(&format!(
                "GET /bigquery/v2/projects/test-project/jobs/{first}"
            )),
            "{}",
            requests[2]
        );
    }

    /// A query tried again after its answer was lost carries the request
    /// id of its first try, by which BigQuery runs a statement once
    /// however often it is sent (a claim's INSERT, a commit's script).
    #[test]
    fn a_query_tried_again_carries_the_request_id_of_its_first_try() {
        let (endpoint, requests) = recording_service(vec![
            (503, UNAVAILABLE),
            (
                200,
                r#"{"kind":"bigquery#queryResponse","jobComplete":true}"#,
            ),
        ]);
        let runtime = runtime();
        let api = api(&endpoint, &runtime);
        runtime
            .block_on(api.query("INSERT INTO t VALUES (1)", &[]))
            .unwrap();
        let request_ids: Vec<String> = requests
            .try_iter()
            .map(|request| {
                let at = request.find("\"requestId\":\"").expect("a request id") + 13;
                request[at..].split('"').next().unwrap().to_string()
            })
            .collect();
        assert_eq!(request_ids.len(), 2);
        assert_eq!(request_ids[0], request_ids[1]);
        assert_eq!(request_ids[0].len(), 36, "a UUID: {}", request_ids[0]);
    }

    /// A load job that never ends (BigQuery keeps it pending) fails the
    /// load at its deadline, and is cancelled so that it cannot land
    /// later. Before, the host asked after it every 250 ms for ever.
    #[test]
    fn a_load_job_that_never_finishes_is_cancelled_at_its_deadline() {
        let mut answers = vec![(200, JOB_RUNNING); 40];
        answers.push((200, r#"{"kind":"bigquery#jobCancelResponse"}"#));
        let (endpoint, requests) = recording_service(answers);
        let runtime = runtime();
        let mut api = api(&endpoint, &runtime);
        api.load_deadline = Duration::from_millis(600);
        let error = runtime
            .block_on(api.load_ndjson("nba", "t", &[], 3, b"{}\n{}\n{}".to_vec()))
            .unwrap_err();
        let ApiError::LoadUnfinished { job_id, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(
            error.to_string(),
            format!(
                "loading 3 rows into nba.t: the load job {job_id} did not finish within 0.6 s; it \
                 was cancelled"
            )
        );
        let requests: Vec<String> = requests.try_iter().collect();
        assert!(requests.len() < 10, "polled {} times", requests.len());
        assert!(
            requests.last().unwrap().starts_with(&format!(
                "POST /bigquery/v2/projects/test-project/jobs/{job_id}/cancel"
            )),
            "{requests:#?}"
        );
    }

    #[test]
    fn retries_stop_after_the_last_attempt() {
        let (endpoint, served) = faulty_service(vec![(503, UNAVAILABLE); 6]);
        let runtime = runtime();
        let api = api(&endpoint, &runtime);
        let error = runtime.block_on(api.dataset_labels("nba")).unwrap_err();
        assert_eq!(served.load(Ordering::SeqCst), 4);
        assert_eq!(error.status(), Some(503));
    }
}
