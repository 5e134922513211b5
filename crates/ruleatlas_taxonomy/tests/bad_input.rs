//! A taxonomy file with a mistake must fail, naming the entry to fix (issue 8 "Bad input").

use ruleatlas_taxonomy::{BUILTIN_FIELDS, BUILTIN_PLATFORMS, Taxonomy, TaxonomyError};

const PLATFORMS: &str = r#"
[platforms]
aws = "AWS"
okta = "Okta"
[domains]
cloud = "Cloud"
identity = "Identity"
[[source]]
name = "aws"
platforms = ["aws"]
domains = ["cloud"]
sigma = [{ product = "aws" }]
[[source]]
name = "okta"
platforms = ["okta"]
domains = ["identity"]
sigma = [{ product = "okta" }]
"#;

fn err(fields: &str, platforms: &str) -> TaxonomyError {
    match Taxonomy::from_toml(fields, platforms) {
        Ok(_) => panic!("accepted a bad taxonomy:\n{fields}"),
        Err(e) => e,
    }
}

#[test]
fn a_small_valid_taxonomy_loads() {
    let fields = r#"
[[field]]
name = "aws::eventName"
sigma = ["eventName"]
"#;
    assert!(Taxonomy::from_toml(fields, PLATFORMS).is_ok());
}

#[test]
fn the_builtin_files_load() {
    if let Err(e) = Taxonomy::from_toml(BUILTIN_FIELDS, BUILTIN_PLATFORMS) {
        panic!("{e}");
    }
}

#[test]
fn duplicate_mapping_in_one_field() {
    let e = err(
        r#"
[[field]]
name = "process.name"
sigma = ["Image", "Image"]
"#,
        PLATFORMS,
    );
    assert_eq!(e.entry(), "field \"process.name\"", "{e}");
    assert!(
        e.to_string().contains("duplicate mapping sigma \"Image\""),
        "{e}"
    );
}

#[test]
fn conflicting_mapping_across_fields() {
    let e = err(
        r#"
[[field]]
name = "process.executable"
sigma = ["Image"]
[[field]]
name = "process.name"
sigma = ["Image"]
"#,
        PLATFORMS,
    );
    assert_eq!(e.entry(), "field \"process.name\"", "{e}");
    assert!(
        e.to_string().contains(
            "conflicting mapping: sigma \"Image\" is also mapped to \"process.executable\""
        ),
        "{e}"
    );
}

#[test]
fn conflicting_mapping_on_the_same_source() {
    let e = err(
        r#"
[[field]]
name = "aws::eventName"
[[field.on]]
source = "aws"
sigma = ["eventName"]
[[field]]
name = "okta::eventType"
[[field.on]]
source = "aws"
sigma = ["eventName"]
"#,
        PLATFORMS,
    );
    assert_eq!(e.entry(), "field \"okta::eventType\"", "{e}");
    assert!(e.to_string().contains("on aws"), "{e}");
}

#[test]
fn same_name_on_different_sources_is_fine() {
    let fields = r#"
[[field]]
name = "aws::eventName"
[[field.on]]
source = "aws"
sigma = ["eventName"]
[[field]]
name = "okta::eventType"
[[field.on]]
source = "okta"
sigma = ["eventName"]
"#;
    assert!(Taxonomy::from_toml(fields, PLATFORMS).is_ok());
}

#[test]
fn field_defined_twice() {
    let e = err(
        "[[field]]\nname = \"a.b\"\n[[field]]\nname = \"a.b\"\n",
        PLATFORMS,
    );
    assert_eq!(e.entry(), "field \"a.b\"", "{e}");
}

#[test]
fn alias_cycle() {
    let e = err(
        r#"
[[field]]
name = "event.dataset"
aliases = ["data_stream.dataset"]
[[field]]
name = "data_stream.dataset"
aliases = ["event.dataset"]
"#,
        PLATFORMS,
    );
    assert!(e.to_string().contains("alias cycle"), "{e}");
    assert!(
        e.entry() == "field \"event.dataset\"" || e.entry() == "field \"data_stream.dataset\"",
        "{e}"
    );
}

#[test]
fn alias_of_itself() {
    let e = err(
        "[[field]]\nname = \"a.b\"\naliases = [\"a.b\"]\n",
        PLATFORMS,
    );
    assert_eq!(e.entry(), "field \"a.b\"", "{e}");
    assert!(e.to_string().contains("alias cycle"), "{e}");
}

#[test]
fn unknown_vendor_in_a_field() {
    let e = err(
        "[[field]]\nname = \"process.name\"\nsplunkk = [\"process_name\"]\n",
        PLATFORMS,
    );
    assert_eq!(e.entry(), "field \"process.name\"", "{e}");
    assert!(e.to_string().contains("unknown vendor \"splunkk\""), "{e}");
}

#[test]
fn unknown_vendor_in_a_source() {
    let platforms = format!(
        "{PLATFORMS}\n[[source]]\nname = \"x\"\nsentinel = [{{ table = \"SigninLogs\" }}]\n"
    );
    let e = err("", &platforms);
    assert_eq!(e.entry(), "source \"x\"", "{e}");
    assert!(e.to_string().contains("unknown vendor \"sentinel\""), "{e}");
}

#[test]
fn unknown_source_platform_and_domain() {
    let e = err(
        "[[field]]\nname = \"a\"\n[[field.on]]\nsource = \"gcp\"\nsigma = [\"x\"]\n",
        PLATFORMS,
    );
    assert_eq!(e.entry(), "field \"a\"", "{e}");
    assert!(e.to_string().contains("unknown source \"gcp\""), "{e}");
    let p = format!("{PLATFORMS}\n[[source]]\nname = \"y\"\nplatforms = [\"solaris\"]\n");
    assert_eq!(err("", &p).entry(), "source \"y\"");
    let p = format!("{PLATFORMS}\n[[source]]\nname = \"z\"\ndomains = [\"space\"]\n");
    assert!(err("", &p).to_string().contains("unknown domain \"space\""));
}

#[test]
fn source_defined_twice() {
    let p = format!("{PLATFORMS}\n[[source]]\nname = \"aws\"\n");
    assert_eq!(err("", &p).entry(), "source \"aws\"");
}

#[test]
fn broken_toml_names_the_file() {
    let e = err("[[field]\nname = ", PLATFORMS);
    assert!(
        matches!(
            e,
            TaxonomyError::Parse {
                file: "fields.toml",
                ..
            }
        ),
        "{e}"
    );
    let e = err("", "[platforms");
    assert!(
        matches!(
            e,
            TaxonomyError::Parse {
                file: "platforms.toml",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn unknown_basename_and_value_rule() {
    let e = err("[[field]]\nname = \"a\"\nbasename = \"b\"\n", PLATFORMS);
    assert!(
        e.to_string().contains("basename \"b\" is not a field"),
        "{e}"
    );
    let e = err(
        "[[field]]\nname = \"a\"\nvalues = \"lowercase\"\n",
        PLATFORMS,
    );
    assert!(e.to_string().contains("unknown value rule"), "{e}");
}
