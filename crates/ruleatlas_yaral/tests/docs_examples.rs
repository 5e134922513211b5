//! Rules in the shapes Google's YARA-L 2.0 documentation shows (rule structure, events,
//! match windows, outcome, condition, options): each must load fully with no diagnostic.

use ruleatlas_model::{ParseStatus, PredicateKind, VendorAdapter};
use ruleatlas_testkit::preds;
use ruleatlas_yaral::YaralAdapter;

const RULES: &str = r#"
rule suspicious_unusual_location_svchost_execution
{
  meta:
    author = "Google Cloud Security"
    description = "Windows 'svchost' executed from an unusual location"
    yara_version = "YL2.0"
    rule_version = "1.0"

  events:
    $e1.metadata.event_type = "PROCESS_LAUNCH"
    re.regex($e1.principal.process.command_line, `\bsvchost(\.exe)?\b`) nocase
    not re.regex($e1.principal.process.command_line, `\\Windows\\System32\\`) nocase

  condition:
    $e1
}

rule DifferentCityLogin {
  meta:
  events:
    $udm.metadata.event_type = "USER_LOGIN"
    $udm.principal.user.userid = $user
    $udm.principal.location.city = $city
  match:
    $user over 5m
  condition:
    $udm and #city > 1
}

rule UserCreationThenDeletion {
  meta:
  events:
    $create.target.user.userid = $user
    $create.metadata.event_type = "USER_CREATION"
    $delete.target.user.userid = $user
    $delete.metadata.event_type = "USER_DELETION"
    $create.metadata.event_timestamp.seconds <=
       $delete.metadata.event_timestamp.seconds
  match:
    $user over 4h
  condition:
    $create and $delete
}

rule EventsWithinIpRange {
  meta:
    author = "docs"
  events:
    net.ip_in_range_cidr($e.principal.ip, "10.0.0.0/8") or
      net.ip_in_range_cidr($e.principal.ip, %private_ranges)
    $e.metadata.event_type = "NETWORK_CONNECTION"
    $e.target.port != 443 and $e.target.port != 80
    $e.security_result.risk_score >= 7.5
    $e.network.received_bytes > -1
    not ($e.target.hostname = "a.example" or $e.target.hostname = "b.example")
    any $e.principal.ip = /^192\.168\./
    $e.about.labels["env"] = "prod" // inline comment
  condition:
    $e
}

rule OutcomeAndOptions {
  meta:
    author = "docs"
    severity = "Medium"
  events:
    $e.metadata.event_type = "USER_LOGIN"
    $e.principal.user.userid = $user
    $e.target.hostname = $host
    strings.to_lower(strings.trim($e.principal.hostname)) = "kiosk"
    arrays.length($e.principal.ip) > 1
    strings.length($e.target.url) > 200
    math.round($e.security_result.risk_score) >= 8
    re.regex($e.target.url, `admin`) = false
  match:
    $user, $host over 1h after $e
  outcome:
    $severity = if($e.security_result.severity = "HIGH", "HIGH", "LOW")
    $total = sum(if($e.network.sent_bytes > 10, 1, 0))
    $risk_score = max(10 + if($e.target.user.title = "Intern", 50, 0) +
        if($e.principal.hostname = /^kiosk/ nocase, 20))
    $hosts = array_distinct($e.target.hostname)
    $first_seen = min($e.metadata.event_timestamp.seconds)
    $ratio = $total / 2
  condition:
    ($e and $risk_score > 20) or #e >= 10
  options:
    allow_zero_values = true
}

rule EntityGraphJoin {
  meta:
    author = "docs"
  events:
    $e.metadata.event_type = "PROCESS_LAUNCH"
    $e.principal.hostname = $host
    $g.graph.metadata.entity_type = "ASSET"
    $g.graph.metadata.source_type = "ENTITY_CONTEXT"
    $g.graph.entity.asset.hostname = $host
    $g.graph.entity.asset.platform_software.platform = "WINDOWS"
  match:
    $host over 1m
  condition:
    $e and $g
}
"#;

#[test]
fn documentation_shapes_load_fully() {
    let (docs, diags) = YaralAdapter::new().load("rules/docs/examples.yaral", RULES);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(docs.len(), 6);
    for d in &docs {
        assert!(
            d.lowered.diagnostics.is_empty(),
            "{}: {:?}",
            d.title,
            d.lowered.diagnostics
        );
        assert_eq!(
            d.status,
            ParseStatus::Full,
            "{}: {:?}",
            d.title,
            d.lowered.unparsed
        );
        assert!(d.lowered.predicates.iter().all(|p| p.origin.is_some()));
    }
    // Spot checks of meaning.
    let by = |name: &str| docs.iter().find(|d| d.title == name).expect(name);
    let svchost = preds(by("suspicious_unusual_location_svchost_execution"));
    assert_eq!(
        svchost[2],
        r#"principal.process.command_line regex_match ["\\\\Windows\\\\System32\\\\"] negated exclusion event="$e1""#
    );
    let city = by("DifferentCityLogin");
    assert!(
        preds(city).contains(&r#"#city gt [1] threshold"#.to_string()),
        "{:#?}",
        preds(city)
    );
    let ip = preds(by("EventsWithinIpRange"));
    assert!(
        ip.contains(
            &r#"principal.ip cidr [] event="$e" reference_list="private_ranges""#.to_string()
        ),
        "{ip:#?}"
    );
    assert!(
        ip.contains(
            &r#"target.hostname eq ["a.example"] negated exclusion cs event="$e""#.to_string()
        ),
        "{ip:#?}"
    );
    assert!(
        ip.contains(&r#"security_result.risk_score ge [7.5] event="$e""#.to_string()),
        "{ip:#?}"
    );
    assert!(
        ip.contains(&r#"network.received_bytes gt [-1] event="$e""#.to_string()),
        "{ip:#?}"
    );
    let oc = by("OutcomeAndOptions");
    assert_eq!(oc.extra["match"]["window"], "1h");
    assert!(
        oc.lowered
            .predicates
            .iter()
            .any(|p| p.kind == PredicateKind::Scoring && p.raw_field == "target.user.title")
    );
    assert!(
        preds(oc)
            .contains(&r#"target.url regex_match ["admin"] negated cs event="$e""#.to_string()),
        "{:#?}",
        preds(oc)
    );
    assert!(preds(oc).contains(&r#"$risk_score gt [20] computed threshold"#.to_string()));
    let eg = preds(by("EntityGraphJoin"));
    assert!(
        eg.contains(&r#"graph.metadata.entity_type eq ["ASSET"] cs event="$g""#.to_string()),
        "{eg:#?}"
    );
}
