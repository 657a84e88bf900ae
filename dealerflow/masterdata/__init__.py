"""Master data a manufacturer keeps: dealers, products, users and regions, each change audited field by
field in its own transaction (`audit`), edits refused when made on a stale read (`records.fingerprint`),
credit limit raises above the credit rule file's threshold held for a second person (`credit_limits`),
bulk import and export as CSV or XLSX (`imports`, `exports`). Keyword-only services; the caller commits."""
