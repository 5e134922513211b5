//! The JSON API: the same objects as the CLI's `--json`.

use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use ruleatlas_catalog::{query, stats as catalog_stats};
use serde::Serialize;

use crate::handlers::{Fail, cached, guide_filter, json, respond, rule_id};
use crate::pages::SEARCH_LIMIT;
use crate::state::AppState;
use crate::util::{flag, param, parse_query, technique_id};

fn fail(f: &Fail) -> Response {
    respond(f.json())
}

pub(crate) async fn techniques(State(state): State<AppState>, uri: Uri) -> Response {
    let flags =
        parse_query(uri.query()).and_then(|p| Ok((flag(&p, "include_hunts")?, flag(&p, "all")?)));
    let (hunts, all) = match flags {
        Ok(x) => x,
        Err(e) => return fail(&Fail::from(e)),
    };
    cached(&state, format!("api-techniques|{hunts}|{all}"), move |s| {
        json(&query::techniques(&s.index, hunts, all))
    })
    .await
}

pub(crate) async fn technique(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    let req = path.map_err(Fail::from).and_then(|Path(raw)| {
        let id = technique_id(&raw)
            .ok_or_else(|| Fail::NotFound(format!("`{raw}` is not a technique id")))?;
        Ok((id, guide_filter(&parse_query(uri.query())?)?))
    });
    let (id, filter) = match req {
        Ok(x) => x,
        Err(f) => return fail(&f),
    };
    cached(&state, format!("api-technique|{id}|{filter:?}"), move |s| {
        match ruleatlas_catalog::guide::guide(
            &s.index,
            &id,
            &filter,
            s.index.reach(filter.include_hunts),
        ) {
            Some(g) => json(&g),
            None => Fail::NotFound(format!("unknown technique {id}")).json(),
        }
    })
    .await
}

pub(crate) async fn rule(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let id = match path
        .map_err(Fail::from)
        .and_then(|Path((v, rest))| rule_id(&v, &rest))
    {
        Ok(id) => id,
        Err(f) => return fail(&f),
    };
    cached(&state, format!("api-rule|{id}"), move |s| {
        match s.index.rule(&id) {
            Some(r) => json(&query::rule_json(r)),
            None => Fail::NotFound(format!("no rule {id}")).json(),
        }
    })
    .await
}

pub(crate) async fn fields(State(state): State<AppState>) -> Response {
    cached(&state, "api-fields".into(), |s| {
        json(&query::fields(&s.index))
    })
    .await
}

pub(crate) async fn field(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let name = match path {
        Ok(Path(n)) => n,
        Err(e) => return fail(&Fail::from(e)),
    };
    cached(
        &state,
        format!("api-field|{name}"),
        move |s| match query::field_detail(&s.index, &name) {
            Some(d) => json(&d),
            None => Fail::NotFound(format!("no counted rule filters on field `{name}`")).json(),
        },
    )
    .await
}

/// One hit of `search --json` (the CLI's shape: `{vendor: [hit]}`).
#[derive(Serialize)]
struct SearchHit<'a> {
    id: &'a str,
    vendor: &'a str,
    title: &'a str,
    status: &'a str,
    techniques: Vec<&'a str>,
    path: &'a str,
}

pub(crate) async fn search(State(state): State<AppState>, uri: Uri) -> Response {
    let q = match parse_query(uri.query()) {
        Ok(p) => param(&p, "q").unwrap_or("").to_string(),
        Err(e) => return fail(&Fail::from(e)),
    };
    let parsed = query::SearchQuery::parse(&q);
    if parsed.is_empty() {
        return fail(&Fail::BadRequest(
            "empty search: give words, field:NAME, value:TEXT, vendor:V or technique:T in ?q="
                .into(),
        ));
    }
    cached(&state, format!("api-search|{q}"), move |s| {
        let groups = query::search(&s.index, &parsed, SEARCH_LIMIT);
        let hits: BTreeMap<&str, Vec<SearchHit>> = groups
            .iter()
            .map(|(v, rules)| {
                let list = rules
                    .iter()
                    .map(|r| SearchHit {
                        id: &r.id,
                        vendor: r.doc.vendor.key(),
                        title: &r.doc.title,
                        status: r.doc.status.as_str(),
                        techniques: r.techniques.iter().map(|t| t.id.as_str()).collect(),
                        path: &r.doc.path,
                    })
                    .collect();
                (v.key(), list)
            })
            .collect();
        json(&hits)
    })
    .await
}

pub(crate) async fn stats(State(state): State<AppState>) -> Response {
    cached(&state, "api-stats".into(), |s| {
        json(&catalog_stats::stats(&s.index))
    })
    .await
}
