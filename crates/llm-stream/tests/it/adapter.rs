//! The stream adapters over a `Stream` of byte chunks.

use std::error::Error as _;
use std::io;

use bytes::Bytes;
use futures::executor::block_on;
use futures::stream::{self, StreamExt};
use llm_stream::{Limits, NdjsonParser, NdjsonStream, SseEvent, SseParser, SseStream, StreamError};

fn ok_chunks(chunks: &[&'static str]) -> impl futures::Stream<Item = Result<Bytes, io::Error>> {
    stream::iter(
        chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn sse_events_come_out_across_chunk_boundaries() {
    let items: Vec<_> = block_on(
        SseStream::new(ok_chunks(&[
            "data: a",
            "\r",
            "\ndata: b\r",
            "\n\r\n",
            ": x\n",
        ]))
        .collect(),
    );
    let events: Vec<SseEvent> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(events, [SseEvent::new("message", "a\nb", "")]);
}

#[test]
fn sse_truncated_end_is_the_last_item() {
    let items: Vec<_> =
        block_on(SseStream::new(ok_chunks(&["data: a\n\n", "data: cut off"])).collect());
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().data(), "a");
    let err = items[1].as_ref().unwrap_err();
    assert!(err.is_truncated() && !err.is_transport());
    assert_eq!(
        err.to_string(),
        "stream ended inside an unfinished sse event"
    );
}

#[test]
fn sse_transport_error_is_yielded_and_ends_the_stream() {
    let chunks = stream::iter(vec![
        Ok(Bytes::from_static(b"data: a\n\ndata: b")),
        Err(io::Error::other("connection reset")),
        Ok(Bytes::from_static(b"\n\n")),
    ]);
    let items: Vec<_> = block_on(SseStream::new(chunks).collect());
    assert_eq!(
        items.len(),
        2,
        "nothing after the transport error, no truncation report"
    );
    let err = items[1].as_ref().unwrap_err();
    assert!(err.is_transport());
    assert_eq!(err.to_string(), "reading the byte stream failed");
    assert_eq!(err.source().unwrap().to_string(), "connection reset");
}

#[test]
fn sse_limit_errors_are_yielded_in_place() {
    let parser = SseParser::with_limits(Limits::uniform(10));
    let stream = SseStream::with_parser(
        ok_chunks(&["data: too long here\n\n", "data: ok\n\n"]),
        parser,
    );
    let items: Vec<_> = block_on(stream.collect());
    assert!(matches!(items[0], Err(StreamError::Sse(_))));
    assert_eq!(items[1].as_ref().unwrap().data(), "ok");
    assert_eq!(items.len(), 2);
}

#[test]
fn sse_stream_gives_back_its_parser_state() {
    let mut stream = SseStream::new(ok_chunks(&["id: 3\nretry: 50\ndata: a\n\n"]));
    let first = block_on(stream.next()).unwrap().unwrap();
    assert_eq!(first.id(), "3");
    assert!(block_on(stream.next()).is_none());
    assert!(block_on(stream.next()).is_none(), "stays ended");
    assert_eq!(stream.parser().last_event_id(), "3");
    assert_eq!(
        stream.into_parser().retry(),
        Some(std::time::Duration::from_millis(50))
    );
}

#[test]
fn adapters_accept_any_as_ref_bytes_chunk() {
    let vecs = stream::iter(vec![Ok::<_, io::Error>(b"data: v\n\n".to_vec())]);
    let items: Vec<_> = block_on(SseStream::new(vecs).collect());
    assert_eq!(items[0].as_ref().unwrap().data(), "v");
}

#[test]
fn ndjson_lines_come_out_and_last_line_at_end() {
    let stream = NdjsonStream::new(ok_chunks(&["{\"a\":", "1}\n\n{\"b\"", ":2}"]));
    let lines: Vec<_> = block_on(stream.collect());
    let lines: Vec<(u64, String)> = lines
        .into_iter()
        .map(|l| l.unwrap())
        .map(|l| (l.number(), l.into_string()))
        .collect();
    assert_eq!(
        lines,
        [(1, "{\"a\":1}".to_owned()), (3, "{\"b\":2}".to_owned())]
    );
}

#[test]
fn ndjson_errors_and_transport_errors() {
    let chunks = stream::iter(vec![
        Ok(Bytes::from_static(b"123456\n1\n")),
        Err(io::Error::other("eof")),
    ]);
    let parser = NdjsonParser::with_limits(Limits::uniform(4));
    let items: Vec<_> = block_on(NdjsonStream::with_parser(chunks, parser).collect());
    assert!(matches!(&items[0], Err(StreamError::Ndjson(e)) if e.line() == 1 && e.is_too_long()));
    assert_eq!(items[1].as_ref().unwrap().number(), 2);
    assert!(items[2].as_ref().unwrap_err().is_transport());
    assert_eq!(items.len(), 3);
}

#[test]
fn stream_errors_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<StreamError<io::Error>>();
    assert_send_sync::<SseStream<stream::Iter<std::vec::IntoIter<Result<Bytes, io::Error>>>>>();
}

#[test]
fn decode_streams_see_the_same_items_as_the_owned_streams() {
    use llm_stream::{NdjsonDecodeStream, SseDecodeStream, SseEventRef};
    let sse = b"event: a\ndata: 1\n\ndata: x\ndata: y\n\nid: 9\ndata: 2\n\ndata: cut".to_vec();
    let chunks = |bytes: &[u8], n: usize| {
        bytes
            .chunks(n)
            .map(|c| Ok::<_, io::Error>(c.to_vec()))
            .collect::<Vec<_>>()
    };
    for n in [1, 3, 7, 64] {
        let owned: Vec<_> = block_on(SseStream::new(stream::iter(chunks(&sse, n))).collect());
        let decoded: Vec<_> = block_on(
            SseDecodeStream::new(stream::iter(chunks(&sse, n)), |e: SseEventRef<'_>| {
                e.to_event()
            })
            .collect(),
        );
        assert_eq!(decoded.len(), 4, "3 events and the truncation");
        for (o, d) in owned.iter().zip(&decoded) {
            match (o, d) {
                (Ok(o), Ok(d)) => assert_eq!(o, d),
                (Err(StreamError::Truncated(o)), Err(StreamError::Truncated(d))) => {
                    assert_eq!(o, d)
                }
                other => panic!("items differ: {other:?}"),
            }
        }
    }
    let ndjson = b"{\"n\":1}\n\n{\"n\":\n[3]".to_vec();
    for n in [1, 4, 64] {
        let items: Vec<_> = block_on(
            NdjsonDecodeStream::new(stream::iter(chunks(&ndjson, n)), |line| {
                (line.number(), line.decode::<serde_json::Value>().is_ok())
            })
            .collect(),
        );
        let items: Vec<_> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(items, [(1, true), (3, false), (4, true)]);
    }
}
