//! The builtin taxonomy on the concepts the T1621 guide and issue 8 name: one concept, one row.

use std::collections::BTreeMap;

use ruleatlas_model::{Op, Predicate, RuleDoc, Value, Vendor};
use ruleatlas_taxonomy::Taxonomy;

fn ls(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in pairs {
        m.entry((*k).to_string())
            .or_default()
            .push((*v).to_string());
    }
    m
}

fn canon(vendor: Vendor, raw: &str, pairs: &[(&str, &str)]) -> Option<String> {
    Taxonomy::builtin()
        .canonical_field(vendor, raw, &ls(pairs))
        .map(str::to_string)
}

fn doc(vendor: Vendor, pairs: &[(&str, &str)], preds: Vec<Predicate>) -> RuleDoc {
    let mut d = RuleDoc::new(vendor, "rules/x");
    d.logsource = ls(pairs);
    d.lowered.predicates = preds;
    d
}

#[test]
fn builtin_validates() {
    let t = Taxonomy::builtin();
    assert!(t.fields().count() > 150, "{}", t.fields().count());
    assert!(t.field("process.command_line").is_some());
    assert!(
        t.field("data_stream.dataset")
            .is_some_and(|f| f.name == "event.dataset")
    );
}

#[test]
fn okta_event_type_from_every_vendor() {
    let want = Some("okta::eventType".to_string());
    assert_eq!(
        canon(
            Vendor::Sigma,
            "eventType",
            &[("product", "okta"), ("service", "okta")]
        ),
        want
    );
    assert_eq!(
        canon(
            Vendor::Elastic,
            "okta.event_type",
            &[("index", "logs-okta*")]
        ),
        want
    );
    assert_eq!(
        canon(Vendor::Elastic, "event.action", &[("data_source", "Okta")]),
        want
    );
    assert_eq!(
        canon(
            Vendor::Splunk,
            "eventType",
            &[("sourcetype", "OktaIM2:log")]
        ),
        want
    );
    assert_eq!(
        canon(
            Vendor::Panther,
            "eventType",
            &[("log_type", "Okta.SystemLog")]
        ),
        want
    );
    assert_eq!(
        canon(
            Vendor::Yaral,
            "metadata.product_event_type",
            &[("product", "Okta")]
        ),
        want
    );
    assert_eq!(
        canon(Vendor::Kusto, "eventType_s", &[("table", "Okta_CL")]),
        want
    );
    // CloudTrail has an eventType too, and it is not Okta's.
    assert_eq!(
        canon(
            Vendor::Sigma,
            "eventType",
            &[("product", "aws"), ("service", "cloudtrail")]
        )
        .as_deref(),
        Some("aws::eventType")
    );
    // Splunk's own `eventtype` names a log (like sourcetype), not Okta's eventType.
    assert_eq!(
        canon(
            Vendor::Splunk,
            "eventtype",
            &[("sourcetype", "OktaIM2:log")]
        )
        .as_deref(),
        Some("event.dataset")
    );
}

#[test]
fn cloudtrail_event_name_from_every_vendor() {
    let want = Some("aws::eventName".to_string());
    assert_eq!(
        canon(
            Vendor::Sigma,
            "eventName",
            &[("product", "aws"), ("service", "cloudtrail")]
        ),
        want
    );
    assert_eq!(
        canon(
            Vendor::Elastic,
            "event.action",
            &[("index", "logs-aws.cloudtrail-*")]
        ),
        want
    );
    assert_eq!(
        canon(
            Vendor::Elastic,
            "event.action",
            &[("data_source", "AWS CloudTrail")]
        ),
        want
    );
    assert_eq!(
        canon(
            Vendor::Splunk,
            "eventName",
            &[("sourcetype", "aws:cloudtrail")]
        ),
        want
    );
    assert_eq!(
        canon(
            Vendor::Splunk,
            "api.operation",
            &[("sourcetype", "aws:asl")]
        ),
        want
    );
    assert_eq!(
        canon(Vendor::Kusto, "EventName", &[("table", "AWSCloudTrail")]),
        want
    );
    assert_eq!(canon(Vendor::Kusto, "AWSCloudTrail.EventName", &[]), want);
    assert_eq!(
        canon(
            Vendor::Yaral,
            "metadata.product_event_type",
            &[("product", "AWS CloudTrail")]
        ),
        want
    );
    assert_eq!(
        canon(
            Vendor::Panther,
            "eventName",
            &[("log_type", "AWS.CloudTrail")]
        ),
        want
    );
    // Elsewhere event.action stays the ECS field.
    assert_eq!(
        canon(
            Vendor::Elastic,
            "event.action",
            &[("index", "logs-endpoint.events.*")]
        )
        .as_deref(),
        Some("event.action")
    );
    let f = Taxonomy::builtin().field("aws::eventName").expect("field");
    assert_eq!(f.ecs.as_deref(), Some("event.action"));
}

#[test]
fn windows_event_ids_are_not_okta_types() {
    assert_eq!(
        canon(
            Vendor::Sigma,
            "EventID",
            &[("product", "windows"), ("service", "security")]
        )
        .as_deref(),
        Some("event.code")
    );
    assert_eq!(
        canon(Vendor::Splunk, "EventCode", &[]).as_deref(),
        Some("event.code")
    );
    assert_eq!(
        canon(Vendor::Kusto, "EventID", &[("table", "SecurityEvent")]).as_deref(),
        Some("event.code")
    );
    assert_eq!(
        canon(Vendor::Elastic, "event.code", &[]).as_deref(),
        Some("event.code")
    );
    assert_eq!(
        canon(
            Vendor::Yaral,
            "metadata.product_event_type",
            &[("product", "Microsoft-Windows-Sysmon")]
        )
        .as_deref(),
        Some("event.code")
    );
}

#[test]
fn process_name_meets_across_vendors() {
    let t = Taxonomy::builtin();
    // Sigma Image|endswith '\rundll32.exe' moves to process.name.
    let mut s = doc(
        Vendor::Sigma,
        &[("product", "windows"), ("category", "process_creation")],
        vec![
            Predicate::new("Image", Op::EndsWith, vec![Value::str("\\rundll32.exe")]),
            Predicate::new("Image", Op::Contains, vec![Value::str("\\Temp\\")]),
            Predicate::new("CommandLine", Op::Contains, vec![Value::str("javascript:")]),
        ],
    );
    t.normalize(&mut s);
    let fields: Vec<&str> = s
        .lowered
        .predicates
        .iter()
        .map(|p| p.field.as_str())
        .collect();
    assert_eq!(
        fields,
        ["process.name", "process.executable", "process.command_line"]
    );
    assert_eq!(s.lowered.predicates[0].raw_field, "Image");

    let want = Some("process.name".to_string());
    assert_eq!(canon(Vendor::Elastic, "process.name", &[]), want);
    assert_eq!(canon(Vendor::Splunk, "process_name", &[]), want);
    assert_eq!(canon(Vendor::Splunk, "Processes.process_name", &[]), want);
    assert_eq!(
        canon(
            Vendor::Kusto,
            "FileName",
            &[("table", "DeviceProcessEvents")]
        ),
        want
    );
    assert_eq!(
        canon(Vendor::Kusto, "FileName", &[("table", "DeviceFileEvents")]).as_deref(),
        Some("file.name")
    );
    assert_eq!(
        canon(
            Vendor::Kusto,
            "InitiatingProcessFileName",
            &[("table", "DeviceProcessEvents")]
        )
        .as_deref(),
        Some("process.parent.name")
    );
    assert_eq!(
        canon(
            Vendor::Kusto,
            "InitiatingProcessFileName",
            &[("table", "DeviceNetworkEvents")]
        ),
        want
    );

    // One indicator row for all of them.
    let key = (
        "process.name".to_string(),
        Op::Eq,
        "rundll32.exe".to_string(),
    );
    assert_eq!(
        t.indicator_key(
            "process.name",
            Op::EndsWith,
            &Value::str("\\rundll32.exe"),
            false
        ),
        key
    );
    assert_eq!(
        t.indicator_key(
            "process.executable",
            Op::EndsWith,
            &Value::str("\\RUNDLL32.EXE"),
            false
        ),
        key
    );
    assert_eq!(
        t.indicator_key("process.name", Op::Eq, &Value::str("rundll32.exe"), true),
        key
    );
    assert_eq!(
        t.indicator_key("process.name", Op::In, &Value::str("RunDll32.exe"), false),
        key
    );
    assert_eq!(
        t.indicator_key(
            "process.executable",
            Op::Wildcard,
            &Value::str("*\\rundll32.exe"),
            false
        ),
        key
    );
    assert_eq!(
        t.indicator_key(
            "process.executable",
            Op::RegexMatch,
            &Value::str(r"\\rundll32\.exe$"),
            false
        ),
        key
    );
}

#[test]
fn command_line_and_parent_meet() {
    let want = Some("process.command_line".to_string());
    assert_eq!(canon(Vendor::Sigma, "CommandLine", &[]), want);
    assert_eq!(canon(Vendor::Splunk, "Processes.process", &[]), want);
    assert_eq!(canon(Vendor::Splunk, "process", &[]), want);
    assert_eq!(
        canon(
            Vendor::Kusto,
            "ProcessCommandLine",
            &[("table", "DeviceProcessEvents")]
        ),
        want
    );
    assert_eq!(
        canon(Vendor::Yaral, "target.process.command_line", &[]),
        want
    );
    let parent = Some("process.parent.executable".to_string());
    assert_eq!(canon(Vendor::Sigma, "ParentImage", &[]), parent);
    assert_eq!(
        canon(Vendor::Splunk, "Processes.parent_process_path", &[]),
        parent
    );
    assert_eq!(
        canon(
            Vendor::Yaral,
            "principal.process.file.full_path",
            &[("event_type", "PROCESS_LAUNCH")]
        ),
        parent
    );
    assert_eq!(
        canon(
            Vendor::Yaral,
            "principal.process.file.full_path",
            &[("event_type", "NETWORK_CONNECTION")]
        )
        .as_deref(),
        Some("process.executable")
    );
}

#[test]
fn yaral_events_read_their_own_event_type() {
    let t = Taxonomy::builtin();
    let mut d = doc(
        Vendor::Yaral,
        &[],
        vec![
            Predicate::new(
                "metadata.event_type",
                Op::Eq,
                vec![Value::str("PROCESS_LAUNCH")],
            )
            .context("event", "$p"),
            Predicate::new(
                "principal.process.file.full_path",
                Op::Contains,
                vec![Value::str("x")],
            )
            .context("event", "$p"),
            Predicate::new(
                "metadata.event_type",
                Op::Eq,
                vec![Value::str("NETWORK_CONNECTION")],
            )
            .context("event", "$n"),
            Predicate::new(
                "principal.process.file.full_path",
                Op::Contains,
                vec![Value::str("x")],
            )
            .context("event", "$n"),
        ],
    );
    t.normalize(&mut d);
    assert_eq!(d.lowered.predicates[1].field, "process.parent.executable");
    assert_eq!(d.lowered.predicates[3].field, "process.executable");
}

#[test]
fn splunk_macro_sourcetype_is_a_hint() {
    let t = Taxonomy::builtin();
    let mut d = doc(
        Vendor::Splunk,
        &[],
        vec![
            Predicate::new("sourcetype", Op::Eq, vec![Value::str("OktaIM2:log")])
                .context("macro", "okta"),
            Predicate::new(
                "eventType",
                Op::Eq,
                vec![Value::str("user.authentication.auth_via_mfa")],
            ),
        ],
    );
    t.normalize(&mut d);
    assert_eq!(d.lowered.predicates[0].field, "event.dataset");
    assert_eq!(d.lowered.predicates[1].field, "okta::eventType");
    assert_eq!(d.platforms, ["okta"]);
    assert_eq!(d.domains, ["identity"]);
}

#[test]
fn namespaced_fields_are_left_alone() {
    let t = Taxonomy::builtin();
    let mut d = doc(
        Vendor::Panther,
        &[],
        vec![Predicate::new(
            "okta::eventType",
            Op::Eq,
            vec![Value::str("a")],
        )],
    );
    d.lowered.predicates[0].raw_field = "eventType".into();
    t.normalize(&mut d);
    assert_eq!(d.lowered.predicates[0].field, "okta::eventType");
}

#[test]
fn unmapped_fields_keep_their_raw_name() {
    let t = Taxonomy::builtin();
    let mut d = doc(
        Vendor::Splunk,
        &[],
        vec![Predicate::new("mfa_prompts", Op::Ge, vec![Value::Int(10)])],
    );
    t.normalize(&mut d);
    assert_eq!(d.lowered.predicates[0].field, "mfa_prompts");
}

#[test]
fn indicator_keys() {
    let t = Taxonomy::builtin();
    assert_eq!(
        t.indicator_key("event.code", Op::Eq, &Value::Int(4624), false),
        t.indicator_key("event.code", Op::Eq, &Value::str("4624"), false)
    );
    assert_eq!(
        t.indicator_key(
            "process.command_line",
            Op::Wildcard,
            &Value::str("*-EncodedCommand*"),
            false
        ),
        (
            "process.command_line".into(),
            Op::Contains,
            "-encodedcommand".into()
        )
    );
    assert_eq!(
        t.indicator_key(
            "process.command_line",
            Op::Wildcard,
            &Value::str("*a*b*"),
            false
        ),
        ("process.command_line".into(), Op::Wildcard, "*a*b*".into())
    );
    assert_eq!(
        t.indicator_key(
            "process.command_line",
            Op::Contains,
            &Value::str("ABC"),
            true
        ),
        ("process.command_line".into(), Op::Contains, "ABC".into())
    );
    assert_eq!(
        t.indicator_key(
            "registry.path",
            Op::StartsWith,
            &Value::str("HKEY_LOCAL_MACHINE\\Software\\Run"),
            false
        ),
        (
            "registry.path".into(),
            Op::StartsWith,
            "hklm\\software\\run".into()
        )
    );
    // A directory test on a path stays on the path.
    assert_eq!(
        t.indicator_key(
            "process.executable",
            Op::Contains,
            &Value::str("\\Temp\\"),
            false
        ),
        ("process.executable".into(), Op::Contains, "\\temp\\".into())
    );
    // Aliases key as their field.
    assert_eq!(
        t.indicator_key(
            "data_stream.dataset",
            Op::Eq,
            &Value::str("okta.system"),
            false
        )
        .0,
        "event.dataset"
    );
}

fn pd(
    vendor: Vendor,
    pairs: &[(&str, &str)],
    raw_platforms: &[&str],
    raw_domains: &[&str],
) -> (Vec<String>, Vec<String>) {
    let mut d = doc(vendor, pairs, Vec::new());
    d.raw_platforms = raw_platforms.iter().map(|s| (*s).to_string()).collect();
    d.raw_domains = raw_domains.iter().map(|s| (*s).to_string()).collect();
    Taxonomy::builtin().normalize(&mut d);
    assert_eq!(
        d.raw_platforms.len(),
        raw_platforms.len(),
        "raw values are kept"
    );
    (d.platforms, d.domains)
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

#[test]
fn platforms_and_domains_per_vendor() {
    assert_eq!(
        pd(
            Vendor::Sigma,
            &[("product", "windows"), ("category", "process_creation")],
            &["windows"],
            &[]
        ),
        (v(&["windows"]), v(&["endpoint"]))
    );
    assert_eq!(
        pd(
            Vendor::Sigma,
            &[("product", "azure"), ("service", "signinlogs")],
            &["azure"],
            &[]
        ),
        (v(&["azure"]), v(&["cloud", "identity"]))
    );
    assert_eq!(
        pd(
            Vendor::Sigma,
            &[("product", "okta"), ("service", "okta")],
            &[],
            &[]
        ),
        (v(&["okta"]), v(&["identity"]))
    );
    assert_eq!(
        pd(
            Vendor::Elastic,
            &[("index", "logs-endpoint.events.process-*")],
            &["Windows", "Linux"],
            &["Endpoint"]
        ),
        (v(&["linux", "windows"]), v(&["endpoint"]))
    );
    assert_eq!(
        pd(
            Vendor::Elastic,
            &[("data_source", "Kubernetes")],
            &[],
            &["Kubernetes", "Container"]
        ),
        (v(&["kubernetes"]), v(&["container"]))
    );
    assert_eq!(
        pd(Vendor::Elastic, &[], &[], &["LLM"]),
        (v(&[]), v(&["ai"]))
    );
    assert_eq!(
        pd(Vendor::Elastic, &[], &[], &["SaaS"]),
        (v(&[]), v(&["saas"]))
    );
    assert_eq!(
        pd(
            Vendor::Splunk,
            &[
                ("data_source", "Sysmon EventID 1"),
                ("datamodel", "Endpoint")
            ],
            &[],
            &["endpoint"]
        ),
        (v(&["windows"]), v(&["endpoint"]))
    );
    assert_eq!(
        pd(
            Vendor::Splunk,
            &[("sourcetype", "aws:cloudtrail")],
            &[],
            &["threat"]
        ),
        (v(&["aws"]), v(&["cloud"]))
    );
    assert_eq!(
        pd(Vendor::Splunk, &[], &[], &["network"]),
        (v(&[]), v(&["network"]))
    );
    assert_eq!(
        pd(Vendor::Splunk, &[], &[], &["access"]),
        (v(&[]), v(&["identity"]))
    );
    assert_eq!(
        pd(Vendor::Kusto, &[("table", "SigninLogs")], &[], &[]),
        (v(&["azure"]), v(&["cloud", "identity"]))
    );
    assert_eq!(
        pd(Vendor::Kusto, &[("table", "DeviceProcessEvents")], &[], &[]),
        (v(&["windows"]), v(&["endpoint"]))
    );
    assert_eq!(
        pd(Vendor::Kusto, &[("table", "AWSCloudTrail")], &[], &[]),
        (v(&["aws"]), v(&["cloud"]))
    );
    assert_eq!(
        pd(Vendor::Kusto, &[("table", "OktaSSO")], &[], &[]),
        (v(&["okta"]), v(&["identity"]))
    );
    assert_eq!(
        pd(Vendor::Yaral, &[("product", "Okta")], &[], &[]),
        (v(&["okta"]), v(&["identity"]))
    );
    assert_eq!(
        pd(Vendor::Yaral, &[("log_type", "GCP_CLOUDAUDIT")], &[], &[]),
        (v(&["gcp"]), v(&["cloud"]))
    );
    assert_eq!(
        pd(Vendor::Panther, &[("log_type", "Okta.SystemLog")], &[], &[]),
        (v(&["okta"]), v(&["identity"]))
    );
    assert_eq!(
        pd(Vendor::Panther, &[("log_type", "AWS.CloudTrail")], &[], &[]),
        (v(&["aws"]), v(&["cloud"]))
    );
    assert_eq!(
        pd(
            Vendor::Panther,
            &[("log_type", "GSuite.ActivityEvent")],
            &[],
            &[]
        ),
        (v(&["google-workspace"]), v(&["saas"]))
    );
    assert_eq!(
        pd(
            Vendor::Panther,
            &[("log_type", "Slack.AuditLogs")],
            &[],
            &[]
        ),
        (v(&[]), v(&["saas"]))
    );
}

#[test]
fn every_source_names_known_vocabulary() {
    let t = Taxonomy::builtin();
    for s in t.sources() {
        for p in &s.platforms {
            assert!(t.platform_vocabulary().contains_key(p), "{}", s.name);
        }
    }
}

#[test]
fn splunk_data_model_prefix_is_resolved() {
    // `Processes.dest` is not listed: it resolves as `dest` on the Processes data model.
    assert_eq!(
        canon(Vendor::Splunk, "Processes.dest", &[]).as_deref(),
        Some("host.name")
    );
    assert_eq!(
        canon(Vendor::Splunk, "dest", &[]),
        None,
        "a bare `dest` is ambiguous"
    );
    assert_eq!(
        canon(Vendor::Splunk, "Web.status", &[]).as_deref(),
        Some("http.response.status_code")
    );
    assert_eq!(
        canon(Vendor::Splunk, "Authentication.action", &[]).as_deref(),
        Some("event.outcome")
    );
}

#[test]
fn yaral_event_variables_are_stripped() {
    assert_eq!(
        canon(Vendor::Yaral, "$e.principal.ip", &[]).as_deref(),
        Some("source.ip")
    );
}

#[test]
fn sigma_cloud_field_case_is_ignored() {
    let ls = &[("product", "azure"), ("service", "signinlogs")];
    assert_eq!(
        canon(Vendor::Sigma, "resultType", ls).as_deref(),
        Some("azure::ResultType")
    );
    assert_eq!(
        canon(Vendor::Sigma, "ResultType", ls).as_deref(),
        Some("azure::ResultType")
    );
    // Kusto columns are case-sensitive.
    assert_eq!(
        canon(Vendor::Kusto, "resulttype", &[("table", "SigninLogs")]),
        None
    );
}

#[test]
fn every_field_says_what_it_is() {
    for f in Taxonomy::builtin().fields() {
        assert!(
            !f.description.trim().is_empty(),
            "{} has no description",
            f.name
        );
        if f.name.contains("::") {
            assert!(
                !f.raw
                    .get(&Vendor::Elastic)
                    .is_some_and(|r| r.contains(&f.name)),
                "{}",
                f.name
            );
        }
    }
}

#[test]
fn fields_list_raw_names_per_vendor() {
    let t = Taxonomy::builtin();
    let f = t.field("process.command_line").expect("field");
    assert!(f.raw[&Vendor::Sigma].contains(&"CommandLine".to_string()));
    assert!(f.raw[&Vendor::Splunk].contains(&"Processes.process".to_string()));
    assert!(f.raw[&Vendor::Kusto].contains(&"ProcessCommandLine".to_string()));
    let m = f
        .mappings
        .iter()
        .find(|m| m.raw == "ProcessCommandLine")
        .expect("mapping");
    assert_eq!(m.sources, ["mde-process"]);
}
