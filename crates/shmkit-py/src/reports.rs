//! The core's reports as Python dicts: a store-layer check, a whole-store check, one
//! object's check, and an object's statistics. One wording for every kind, so a new kind's
//! `verify()` / `stats()` need nothing here.
//!
//! Invariants: the keys are those `shmkit/_shmkit.pyi` declares (`clean`, `problems`,
//! `repaired`, `busy`, and the kind's item count; `findings` and `objects` for a store);
//! statistics keep the core's names and order (`ObjectStats`), counts and bytes as `int`,
//! ratios as `float`.
//!
//! ```python
//! store.check()["clean"]; m.verify()["entries"]; m.stats()["load_factor"]
//! ```

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use shmkit::VerifyReport;
use shmkit::collections::object::{ObjectReport, ObjectStats, StatValue};
use shmkit::maintenance::check::StoreReport;

/// `{clean, problems: [(offset, text)], repaired, busy}`.
fn check_dict<'py>(
    py: Python<'py>,
    clean: bool,
    problems: impl Iterator<Item = (u64, String)>,
    repaired: &[String],
    busy: &[String],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("clean", clean)?;
    let list = PyList::empty(py);
    for (offset, what) in problems {
        list.append((offset, what))?;
    }
    d.set_item("problems", list)?;
    d.set_item("repaired", repaired.to_vec())?;
    d.set_item("busy", busy.to_vec())?;
    Ok(d)
}

/// The dict of a store-layer check (`Store.verify()`).
pub fn verify_report<'py>(py: Python<'py>, r: &VerifyReport) -> PyResult<Bound<'py, PyDict>> {
    check_dict(
        py,
        r.is_clean(),
        r.problems.iter().map(|p| (p.offset, p.what.clone())),
        &r.repaired,
        &r.busy,
    )
}

/// The dict of one object's check; the item count, if the kind has one, under `count_key`
/// (`entries` for maps).
pub fn object_report<'py>(
    py: Python<'py>,
    r: &ObjectReport,
    count_key: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let d = check_dict(
        py,
        r.is_clean(),
        r.problems.iter().map(|p| (p.offset, p.what.clone())),
        &r.repaired,
        &r.busy,
    )?;
    if let Some(count) = r.item_count {
        d.set_item(count_key, count)?;
    }
    Ok(d)
}

/// The dict of an object's statistics.
pub fn stats<'py>(py: Python<'py>, s: &ObjectStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, value) in &s.fields {
        match *value {
            StatValue::Count(n) | StatValue::Bytes(n) => d.set_item(name, n)?,
            StatValue::Ratio(r) => d.set_item(name, r)?,
        }
    }
    Ok(d)
}

/// The dict of a whole-store check (`Store.check()`; the CLI's `check --json` words the
/// same report).
pub fn store_report<'py>(py: Python<'py>, r: &StoreReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("clean", r.is_clean())?;
    let findings: Vec<(&str, String)> = r
        .findings
        .iter()
        .map(|f| (f.severity().name(), f.to_string()))
        .collect();
    d.set_item("findings", findings)?;
    let objects: Vec<(String, String, &str, Option<u64>)> = r
        .objects
        .iter()
        .map(|o| {
            (
                o.info.name.clone(),
                o.info.kind.name(),
                o.state(),
                o.item_count(),
            )
        })
        .collect();
    d.set_item("objects", objects)?;
    Ok(d)
}
