//! The fast lane of record loading against the slow parser: on any text, where the fast lane
//! answers, the slow way must accept the record too and read exactly the same record and the
//! same canonical spans (plain and lean). The fast lane may decline anything. Reading lean with
//! plain inputs left unchecked answers exactly when lean reading does, with the same record
//! and, once checked, the same spans. Reading with the inputs unscanned reads, once they are
//! scanned, what reading unchecked reads.
#![no_main]

use cachescope::pyjson::{CanonicalSpans, parse, parse_record_lean};
use cachescope::record::RunRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for lean in [false, true] {
        let Some(fast) = cachescope::record_fast::read(text, lean) else {
            continue;
        };
        let (value, spans) = if lean {
            parse_record_lean(text).expect("the fast lane read what the parser refuses")
        } else {
            (
                parse(text).expect("the fast lane read what the parser refuses"),
                CanonicalSpans::default(),
            )
        };
        let record =
            RunRecord::from_value(value).expect("the fast lane read what the reader refuses");
        assert_eq!(*fast.record, record);
        assert_eq!(fast.inputs, spans.inputs);
        assert_eq!(fast.flow_parameters, spans.flow_parameters);
    }
    // Leaving plain inputs unchecked reads the same record, and the same spans once checked.
    let unchecked = cachescope::record_fast::read_unchecked(text).map(|f| f.checked(text));
    let lean = cachescope::record_fast::read(text, true);
    assert_eq!(unchecked.is_some(), lean.is_some());
    if let (Some(unchecked), Some(lean)) = (unchecked, lean) {
        assert_eq!(unchecked.record, lean.record);
        assert_eq!(unchecked.inputs, lean.inputs);
        assert_eq!(unchecked.flow_parameters, lean.flow_parameters);
    }
    // Leaving the inputs unscanned reads what reading unchecked reads, once they are scanned
    // (or says to read the record again), and declines nothing that it reads.
    let unchecked = cachescope::record_fast::read_unchecked(text);
    let deferred = cachescope::record_fast::read_deferred(text);
    assert!(unchecked.is_none() || deferred.is_some());
    if let Some(scanned) = deferred.and_then(|d| d.scanned(text)) {
        let unchecked = unchecked.expect("reading unchecked reads what was scanned");
        assert_eq!(scanned.record, unchecked.record);
        assert_eq!(scanned.inputs, unchecked.inputs);
        assert_eq!(scanned.flow_parameters, unchecked.flow_parameters);
    }
    // Skimming reads every field but the inputs as reading unchecked does, and declines
    // nothing that it reads; inputs whose end it finds are left unscanned.
    use cachescope::record_fast::SpanText;
    let unchecked = cachescope::record_fast::read_unchecked(text);
    let skimmed = cachescope::record_fast::read_skim(text);
    assert!(unchecked.is_none() || skimmed.is_some());
    if let (Some(skimmed), Some(unchecked)) = (skimmed, unchecked) {
        let mut record = unchecked.record;
        match (&skimmed.inputs, &unchecked.inputs) {
            (Some((SpanText::Unscanned(at), None)), inputs) => {
                if let Some((SpanText::Unchecked(range), _)) = inputs {
                    assert_eq!(at, range);
                }
                record.inputs = None;
            }
            (skimmed, unchecked) => assert_eq!(skimmed, unchecked),
        }
        assert_eq!(skimmed.record, record);
        assert_eq!(skimmed.flow_parameters, unchecked.flow_parameters);
    }
    // Read for its keys alone, it reads what deferred reads and declines what it declines; a
    // task source left as text is what json.dumps writes for the source deferred decodes.
    let deferred = cachescope::record_fast::read_deferred(text);
    let keys = cachescope::record_fast::read_keys(text);
    assert_eq!(deferred.is_some(), keys.is_some());
    if let (Some(deferred), Some(keys)) = (deferred, keys) {
        let mut record = deferred.record;
        match &keys.task_source {
            Some((SpanText::At(at), None)) => {
                let source = record.task.source.take().expect("deferred decoded the source");
                let mut written = String::new();
                cachescope::pyjson::write_str(&source, &mut written);
                assert_eq!(&text[at.clone()], written);
            }
            other => assert_eq!(other, &None),
        }
        assert_eq!(*keys.record, cachescope::record_fast::keys_view(*record));
        assert_eq!(keys.inputs, deferred.inputs);
        assert_eq!(keys.flow_parameters, deferred.flow_parameters);
    }
    // Read for the inspector, the same, but a source is left as text, and the strings rows_view
    // names are left out, only in a record with a lean inputs or flow-parameters text (one
    // with neither is kept whole, with its source).
    let deferred = cachescope::record_fast::read_deferred(text);
    let inspect = cachescope::record_fast::read_inspect(text);
    assert_eq!(deferred.is_some(), inspect.is_some());
    if let (Some(deferred), Some(inspect)) = (deferred, inspect) {
        let mut record = deferred.record;
        match &inspect.task_source {
            Some((SpanText::At(at), None)) => {
                assert!(inspect.inputs.is_some() || inspect.flow_parameters.is_some());
                let source = record.task.source.take().expect("deferred decoded the source");
                let mut written = String::new();
                cachescope::pyjson::write_str(&source, &mut written);
                assert_eq!(&text[at.clone()], written);
            }
            other => assert_eq!(other, &None),
        }
        if inspect.inputs.is_some() || inspect.flow_parameters.is_some() {
            assert_eq!(*inspect.record, cachescope::record_fast::rows_view(*record));
        } else {
            assert_eq!(inspect.record, record);
        }
        assert_eq!(inspect.inputs, deferred.inputs);
        assert_eq!(inspect.flow_parameters, deferred.flow_parameters);
    }
});
