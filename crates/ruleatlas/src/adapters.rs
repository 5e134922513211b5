//! The one place where every vendor's reader is named.

use ruleatlas_model::{Vendor, VendorAdapter};

/// A fresh adapter for `vendor`.
#[must_use]
pub fn adapter(vendor: Vendor) -> Box<dyn VendorAdapter> {
    match vendor {
        Vendor::Sigma => Box::new(ruleatlas_sigma::SigmaAdapter::new()),
        Vendor::Elastic => Box::new(ruleatlas_elastic::ElasticAdapter::new()),
        Vendor::Splunk => Box::new(ruleatlas_spl::SplunkAdapter::new()),
        Vendor::Kusto => Box::new(ruleatlas_kusto::KustoAdapter::new()),
        Vendor::Yaral => Box::new(ruleatlas_yaral::YaralAdapter::new()),
        Vendor::Panther => Box::new(ruleatlas_panther::PantherAdapter::new()),
    }
}
