//! One cursor chain: a partition of `/streams` paged from its top to its end.
//!
//! Helix's cursor is keyset (see `simulator::listing`): the page after a cursor is
//! the streams scoring below it as they stand now. So a page can repeat streams of
//! the page before; a repeat is dropped by id and viewer order never ends paging. It
//! ends at the listing's end: an empty page, or a page without a cursor (the API
//! guide: "you're at the end of the list when the response contains an empty
//! Pagination object"), or a loop, where the last page's cursor leads back to the
//! first (twitchdev/issues#93). A page of the chain's own streams is a loop only if
//! it does not read on past the page before: a page asked again can come back
//! shorter (twitchdev/issues#199), and the pages after its fresh cursor then hold
//! streams the chain read already, below the page before, until it catches up.
//!
//! An end is believed at once only where the listing really ends: in the long tail
//! of streams with no or a few viewers. One above it is asked again, then the page
//! before is asked again for a fresh cursor (a cursor with an empty next part always
//! leads to an empty page: twitchdev/issues#199, #543); if it still ends there, a
//! partition of a hundred streams or more is marked cut (every language that big has
//! a tail), a smaller one is believed.
//!
//! A failure costs a page, never the slot:
//! - a cursor Helix refuses (`400 invalid cursor` on a cursor it handed out,
//!   twitchdev/issues#91) is asked again on the client's backoff, then the page
//!   before is asked again for a fresh cursor, then the chain starts over from its
//!   top (what it landed stays landed, once), then it ends, saying why;
//! - a page that still fails after the client's retries (5xx, timeouts, 429s that
//!   do not stop) is asked again after a pause, three times, then the chain ends;
//! - at the listing's deadline the chain stops where it is.
//!
//! Whatever it lands goes to the run's [`Collector`]; a chain that ends early leaves
//! its partition marked incomplete in the manifest, with the reason.
//!
//! A big partition is read in segments at once, each a chain of its own started from
//! a cursor the slot before handed out ([`Segments`]): a cursor is a place in the
//! order (a score), so it still leads to the streams below that place a quarter of an
//! hour later. A segment reads down until its page is mostly streams the segment
//! below read first, where that one began; the last reads to the listing's end. A
//! segment whose cursor Helix refuses, or that starts past the end, is gone, and the
//! one above reads on through its part. Where a stream ends up is never assumed: the
//! meeting is seen in the streams themselves.

use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::collector::{Collector, Seen, Source};
use super::plan::{PAGE_SIZE, Partition};
use crate::lake::LakeError;
use crate::twitch::{HelixClient, HelixError, HelixPage, RequestOptions};

/// Viewers at or below which a listing may end: the tail every language has.
pub const TAIL_VIEWERS: u64 = 2;

/// Whether `cursor` is one Helix hands out now and then that always leads to an empty
/// page: base64 of JSON whose next (`a`) cursor is empty, as decoded in
/// twitchdev/issues#199 and #543. Helix's cursors are opaque and undocumented, so a
/// cursor of any other form is not judged here; an empty page is checked anyway.
fn leads_nowhere(cursor: &str) -> bool {
    use base64::Engine;
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(cursor) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|value| value["a"]["Cursor"].as_str() == Some(""))
}

/// Whether `cursor` has the form Helix's keyset cursors have had since 2019 (base64
/// of JSON whose next part, `a`, is a non-empty cursor): one that leads on.
fn keyset_cursor(cursor: &str) -> bool {
    use base64::Engine;
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(cursor) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .is_ok_and(|value| value["a"]["Cursor"].as_str().is_some_and(|a| !a.is_empty()))
}

/// Whether a listing whose last stream had `last_viewers` stopped above the tail.
fn above_tail(last_viewers: Option<u64>) -> bool {
    last_viewers.is_some_and(|v| v > TAIL_VIEWERS)
}

/// Asks of a refused cursor before turning to the page before it.
const CURSOR_RETRIES: u32 = 3;

/// Starts over from the top before a chain gives up.
const RESTARTS: u32 = 1;

/// Times a chain asks a page again to check one end (counted afresh once it gets
/// further): the page before an empty page (for a fresh cursor), or a last page above
/// the tail (for a cursor).
const REWINDS: u32 = 3;

/// Pauses before a page that keeps failing is given up.
const FAILED_PAGE_ROUNDS: u32 = 3;

/// How one chain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Read to the listing's end (the detail says which end).
    Listing(&'static str),
    /// `--max-streams` reached.
    MaxStreams,
    /// The listing's deadline came first.
    Deadline,
    /// It "ended" above the tail, and again when asked again: streams may be missing.
    Cut { viewers: u64 },
    /// Pages kept failing: the reason.
    Failed(String),
}

impl End {
    pub fn complete(&self) -> bool {
        matches!(self, End::Listing(_))
    }

    pub fn describe(&self, pages: u64) -> String {
        match self {
            End::Listing(how) => format!("read to its end ({how})"),
            End::MaxStreams => "stopped at --max-streams".into(),
            End::Deadline => format!("stopped at the run's deadline after {pages} page(s)"),
            End::Cut { viewers } => format!(
                "ended after {pages} page(s) at {viewers} viewers, above the listing's tail, and again when asked again: it may be cut there"
            ),
            End::Failed(reason) => format!("gave up after {pages} page(s): {reason}"),
        }
    }
}

/// What one chain did.
#[derive(Debug)]
pub struct ChainReport {
    pub partition: Partition,
    pub segment: usize,
    /// The cursors it followed, in order (its start first): where the next slot's
    /// segments may start.
    pub cursors: Vec<String>,
    pub pages: u64,
    /// Streams this chain landed first.
    pub landed: u64,
    pub end: End,
    pub restarts: u32,
    /// Chains the partition was read in (1 for one chain; see [`ChainReport::merge`]).
    pub segments: u32,
    pub seconds: f64,
}

/// How a segment ends where the one below began, or when its cursor is gone.
const MET: &str = "met the segment below";
const GONE: &str = "its starting cursor was refused, so the segment above read its part";

/// A partition is cut into segments of about this many pages, at the next slot: 20 s
/// of round trips at 250 ms, under the rate limit's ~25 s for a warm slot's points,
/// so segments set no floor of their own; fewer would each cost a page where they meet.
pub const SEGMENT_PAGES: usize = 80;

impl ChainReport {
    /// One partition's segments as one report: their pages and streams added up, the
    /// first end that is not the listing's (if any), the longest time.
    pub fn merge(mut segments: Vec<ChainReport>) -> ChainReport {
        segments.sort_by_key(|s| s.segment);
        // The end to tell: the first that is not the listing's, else the one segment
        // that read to the listing's end (the others met the one below, or were gone).
        let handed_on = |end: &End| matches!(end, End::Listing(MET | GONE | PAST_THE_END));
        let end = segments
            .iter()
            .find(|s| !s.end.complete())
            .or_else(|| segments.iter().rev().find(|s| !handed_on(&s.end)))
            .map_or(End::Listing("empty page"), |s| s.end.clone());
        let mut merged = ChainReport {
            partition: segments[0].partition.clone(),
            segment: 0,
            cursors: Vec::new(),
            pages: 0,
            landed: 0,
            end,
            restarts: 0,
            segments: segments.len() as u32,
            seconds: 0.0,
        };
        for segment in segments {
            merged.pages += segment.pages;
            merged.landed += segment.landed;
            merged.restarts += segment.restarts;
            merged.seconds = merged.seconds.max(segment.seconds);
            merged.cursors.extend(segment.cursors);
        }
        merged
    }

    /// Where the next slot's segments start: every [`SEGMENT_PAGES`]th cursor followed.
    pub fn segment_starts(&self) -> Vec<String> {
        self.cursors
            .iter()
            .skip(SEGMENT_PAGES - 1)
            .step_by(SEGMENT_PAGES)
            .cloned()
            .collect()
    }
}

/// Why a chain stopped the whole run.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Helix(HelixError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// A language partition returned streams of other languages: Helix ignored the
    /// filter, and partitions would each read the whole listing.
    #[error("Helix answered {partition} with a stream in `{language}`: the language filter was ignored")]
    FilterIgnored { partition: String, language: String },
}

/// Where each segment of one partition stands, so the one above knows where to stop.
#[derive(Debug)]
pub struct Segments {
    states: Vec<std::sync::Mutex<SegmentState>>,
}

#[derive(Debug)]
enum SegmentState {
    /// Its first page has not come yet.
    Waiting,
    /// The viewers of its first stream (where it began), and every stream it has read
    /// since: the part of the listing it has covered, as the streams now stand.
    Began { top: u64, read: FxHashSet<Box<str>> },
    /// Its cursor was refused, or led past the end: the segment above reads on.
    Gone,
}

impl Segments {
    pub fn new(count: usize) -> Segments {
        Segments {
            states: (0..count)
                .map(|_| std::sync::Mutex::new(SegmentState::Waiting))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    fn set(&self, index: usize, state: SegmentState) {
        *self.states[index].lock().expect("segment lock") = state;
    }

    /// Records where segment `index` began: its first page. A first page of fewer than
    /// [`MIN_FIRST_PAGE`] streams is the listing's very end, too little to recognise:
    /// the segment is gone as a mark, and the one above reads on through it.
    fn began(&self, index: usize, first: &[Seen]) {
        let state = match first {
            [top, ..] if first.len() >= MIN_FIRST_PAGE => SegmentState::Began {
                top: top.viewers,
                read: first.iter().map(|s| s.id.clone()).collect(),
            },
            _ => SegmentState::Gone,
        };
        self.set(index, state);
    }

    fn gone_if_waiting(&self, index: usize) {
        let mut state = self.states[index].lock().expect("segment lock");
        if matches!(*state, SegmentState::Waiting) {
            *state = SegmentState::Gone;
        }
    }

    /// Adds a page segment `index` read to what it covers.
    fn read(&self, index: usize, page: &[Seen]) {
        if let SegmentState::Began { read, .. } = &mut *self.states[index].lock().expect("segment lock") {
            read.extend(page.iter().map(|s| s.id.clone()));
        }
    }

    /// Whether a page of segment `index` holding `page` has reached the part the
    /// nearest segment below (that is still there) has read: the page ends at or below
    /// the viewers that one began at, and at least half of its streams are ones it
    /// read. Counting all it read, not only its first page, keeps the meeting found
    /// when counts have moved since: streams drift, but the part stays covered.
    fn met(&self, index: usize, page: &[Seen]) -> bool {
        let Some(last) = page.last() else {
            return false;
        };
        for state in &self.states[index + 1..] {
            match &*state.lock().expect("segment lock") {
                SegmentState::Gone => continue,
                SegmentState::Waiting => return false,
                SegmentState::Began { top, read } => {
                    let shared = page.iter().filter(|s| read.contains(&s.id)).count();
                    return last.viewers <= *top && shared >= page.len().div_ceil(2);
                }
            }
        }
        false
    }
}

/// A segment's first page must hold this many streams to be a mark another can meet.
const MIN_FIRST_PAGE: usize = 10;

/// How a segment ends where it began past the listing's end.
const PAST_THE_END: &str = "it began past the listing's end, so the segment above read on";

/// The streams one chain has read, each with its place in the order it first read
/// them, and the furthest place the page before reached.
#[derive(Default)]
struct Read {
    order: FxHashMap<Box<str>, u64>,
    reach_before: Option<u64>,
}

impl Read {
    /// Takes a page: how many of its streams are new to the chain, and whether it
    /// reads on past the page before through streams the chain read already (it is
    /// catching up to where it had been, after a page asked again came back shorter,
    /// and its cursor led into what the chain had read below it). A page that starts
    /// the listing over holds only streams read before the page before's; one that
    /// overlaps the end of the listing, only streams of the page before.
    fn take(&mut self, page: &[Seen]) -> (u64, bool) {
        let known = self.order.len() as u64;
        let (mut reach, mut reads_on) = (0, false);
        for stream in page {
            let next = self.order.len() as u64;
            let place = *self.order.entry(stream.id.clone()).or_insert(next);
            reads_on |= place < known && self.reach_before.is_some_and(|before| place > before);
            reach = reach.max(place);
        }
        if !page.is_empty() {
            self.reach_before = Some(reach);
        }
        (self.order.len() as u64 - known, reads_on)
    }
}

/// Whether a page jumps up from where the chain was: its first stream has clearly more
/// viewers than the last one read ("if you jump from results with 1 or 0 viewers, to a
/// page of streams with hundreds or thousands, you're back at page 1", the forum
/// answer quoted in the simulator's faults).
fn jumped_up(last_viewers: Option<u64>, page: &[Seen]) -> bool {
    match (last_viewers, page.first()) {
        (Some(last), Some(first)) => first.viewers > last.saturating_mul(2) + 10,
        _ => false,
    }
}

/// A page that could not be had.
enum Missed {
    /// Helix refused the cursor, even asked again.
    Cursor(HelixError),
    /// The page failed after the client's retries.
    Page(HelixError),
    /// Nothing can work: the credentials or the token were refused.
    Run(HelixError),
}

/// What a chain needs from its run.
pub struct Chain<'a> {
    pub client: &'a HelixClient,
    pub collector: &'a Collector,
    pub partition: Partition,
    /// Which segment of the partition this chain is, and where the others stand.
    pub segment: usize,
    pub segments: &'a Segments,
    /// The cursor it starts from: `None`, the top (segment 0).
    pub start: Option<String>,
    /// When the listing must stop.
    pub deadline: Instant,
}

impl Chain<'_> {
    /// Reads the partition to its end, or as far as it can.
    pub async fn read(self) -> Result<ChainReport, ChainError> {
        let started = std::time::Instant::now();
        let mut report = ChainReport {
            partition: self.partition.clone(),
            segment: self.segment,
            cursors: self.start.iter().cloned().collect(),
            pages: 0,
            landed: 0,
            end: End::Deadline,
            restarts: 0,
            segments: 1,
            seconds: 0.0,
        };
        report.end = self.page_through(&mut report).await?;
        // A segment that ended before its first page is no mark: the one above reads
        // on to the next.
        self.segments.gone_if_waiting(self.segment);
        report.seconds = started.elapsed().as_secs_f64();
        match &report.end {
            End::Listing(_) | End::MaxStreams => {
                debug!(partition = %self.partition.name(), segment = self.segment, pages = report.pages, "partition read")
            }
            end => {
                warn!(partition = %self.partition.name(), segment = self.segment, end = %end.describe(report.pages), "partition not read to its end")
            }
        }
        Ok(report)
    }

    async fn page_through(&self, report: &mut ChainReport) -> Result<End, ChainError> {
        // The cursor of the page being asked for (`None`: the top), and of the page
        // before it, once there is one.
        let mut cursor: Option<String> = self.start.clone();
        let mut before: Option<Option<String>> = None;
        let mut began = false;
        // This chain's own streams and cursors since its (re)start: a page of nothing
        // but these is the listing starting over, unless it reads on past the page before.
        let mut seen = Read::default();
        let mut cursors = FxHashSet::<String>::default();
        let (mut read, mut last_viewers, mut previous_full) = (0u64, None::<u64>, false);
        // Whether the page asked for is one read before, pages asked again so far, and
        // the cursor that led to an empty page (when the page before is asked again).
        let (mut rewound, mut rewinds, mut led_nowhere) = (false, 0u32, None::<String>);
        let mut fresh_cursor_tried = false;
        // Whether the cursor asked for has the shape that leads nowhere (followed only
        // when asking again kept handing it out), and empty first pages so far.
        let (mut following_dead, mut empty_tops) = (false, 0u32);
        loop {
            let page = tokio::select! {
                page = self.fetch(cursor.as_deref(), report.pages) => page,
                () = tokio::time::sleep_until(self.deadline) => return Ok(End::Deadline),
            };
            let page = match page {
                Ok(page) => page,
                Err(Missed::Cursor(error)) if !began && self.start.is_some() => {
                    // A cursor of the slot before that Helix no longer takes.
                    debug!(partition = %self.partition.name(), segment = self.segment, %error, "a segment's starting cursor was refused; the segment above reads on");
                    self.segments.set(self.segment, SegmentState::Gone);
                    report.cursors.clear();
                    return Ok(End::Listing(GONE));
                }
                Err(Missed::Cursor(error)) => {
                    if !fresh_cursor_tried && let Some(earlier) = before.take() {
                        // Ask the page before again: it may hand out a cursor that works.
                        fresh_cursor_tried = true;
                        warn!(partition = %self.partition.name(), %error, "Helix refused a cursor it handed out; asking the page before it again");
                        cursor = earlier;
                        rewound = true;
                        continue;
                    }
                    if report.restarts < RESTARTS {
                        report.restarts += 1;
                        warn!(partition = %self.partition.name(), %error, "Helix keeps refusing a cursor; starting the partition over");
                        (cursor, before, fresh_cursor_tried) = (self.start.clone(), None, false);
                        (seen, cursors, read, last_viewers) = Default::default();
                        report.cursors.truncate(usize::from(self.start.is_some()));
                        continue;
                    }
                    return Ok(End::Failed(format!(
                        "Helix refused its cursor again and again: {error}"
                    )));
                }
                Err(Missed::Page(error)) => return Ok(End::Failed(error.to_string())),
                Err(Missed::Run(error)) => return Err(ChainError::Helix(error)),
            };
            report.pages += 1;
            if page.data.is_empty() && !began {
                if self.start.is_some() {
                    // Nothing below its start: the segment above reads to the end.
                    self.segments.set(self.segment, SegmentState::Gone);
                    report.cursors.clear();
                    return Ok(End::Listing(PAST_THE_END));
                }
                // The top of a partition that held streams the slot before: ask again,
                // then say so.
                if self.partition.counted_streams() >= PAGE_SIZE {
                    if empty_tops == 0 {
                        empty_tops += 1;
                        continue;
                    }
                    return Ok(End::Failed(format!(
                        "its first page was empty twice, where the slot before had {} streams",
                        self.partition.expected_streams
                    )));
                }
                return Ok(End::Listing("empty page"));
            }
            if page.data.is_empty() {
                if following_dead {
                    return Ok(End::Failed(
                        "Helix kept handing out a cursor that leads to an empty page (twitchdev/issues#199)".into(),
                    ));
                }
                // An empty page ends the listing, or stands in its middle: a cursor
                // whose next part is empty always leads to one (twitchdev/issues#199,
                // #543). Where that is possible (above the tail, or after a cursor of a
                // form not seen before) the page before is asked again: mid-listing it
                // hands out a fresh cursor to go on with; at the end, the same again.
                let doubtful = above_tail(last_viewers) || cursor.as_deref().is_some_and(|c| !keyset_cursor(c));
                if let (Some(earlier), true) = (before.clone(), doubtful && rewinds < REWINDS) {
                    rewinds += 1;
                    led_nowhere = cursor.take();
                    cursor = earlier;
                    rewound = true;
                    continue;
                }
                return Ok(self.end_here(last_viewers, read, "empty page"));
            }
            let source = if rewound { Source::Again } else { Source::Listing };
            let landing = self.collector.land(&page, source).await?;
            report.landed += landing.landed;
            // A stream of another language now and then is a streamer who just changed
            // it; a page mostly of others is a filter Helix ignored.
            let foreign: Vec<&Seen> = landing
                .streams
                .iter()
                .filter(|s| !self.partition.holds(&s.language))
                .collect();
            if foreign.len() * 2 > landing.streams.len() {
                return Err(ChainError::FilterIgnored {
                    partition: self.partition.name(),
                    language: foreign[0].language.to_string(),
                });
            }
            if landing.full {
                return Ok(End::MaxStreams);
            }
            if began {
                self.segments.read(self.segment, &landing.streams);
            } else {
                began = true;
                self.segments.began(self.segment, &landing.streams);
            }
            if self.segments.met(self.segment, &landing.streams) {
                return Ok(End::Listing(MET));
            }
            let (new_to_chain, catching_up) = seen.take(&landing.streams);
            if catching_up {
                debug!(partition = %self.partition.name(), "a page of streams read already, past the page before: catching up, not the listing starting over");
            }
            let was_rewound = std::mem::take(&mut rewound);
            // The listing started over (twitchdev/issues#93): a page of this chain's own
            // streams, or (for a segment, whose top others read) a jump up to streams
            // the run has landed already; not a page catching up after one asked again.
            let wrapped = landing.landed == 0 && jumped_up(last_viewers, &landing.streams);
            if !was_rewound && !catching_up && ((!landing.streams.is_empty() && new_to_chain == 0) || wrapped) {
                // Its cursor leads back to the top: no place for a segment to start.
                report.cursors.pop();
                return Ok(if previous_full && above_tail(last_viewers) && self.big(read) {
                    End::Cut {
                        viewers: last_viewers.unwrap_or(0),
                    }
                } else {
                    End::Listing("the listing started over")
                });
            }
            if new_to_chain > 0 && !was_rewound {
                // Progress: the checks of an end start afresh.
                rewinds = 0;
            }
            read += new_to_chain;
            last_viewers = landing.streams.last().map(|s| s.viewers).or(last_viewers);
            previous_full = page.data.len() as u64 >= PAGE_SIZE;
            match page.cursor() {
                None => {
                    if above_tail(last_viewers) && !was_rewound && rewinds < REWINDS {
                        // Ask the same page again: does it hand out a cursor now?
                        rewinds += 1;
                        rewound = true;
                        continue;
                    }
                    return Ok(self.end_here(last_viewers, read, "last page"));
                }
                // A cursor known to lead to an empty page: ask this page again for
                // another one.
                Some(next) if leads_nowhere(next) && rewinds < REWINDS => {
                    debug!(partition = %self.partition.name(), "Helix handed out a cursor that leads nowhere; asking the page again");
                    rewinds += 1;
                    rewound = true;
                }
                // Asked again, the page before an empty one hands out the same cursor:
                // that empty page is the end.
                Some(next) if was_rewound && led_nowhere.as_deref() == Some(next) => {
                    return Ok(self.end_here(last_viewers, read, "empty page"));
                }
                // A page asked again hands out its cursor again: no loop.
                Some(next) if !cursors.insert(next.to_string()) && !was_rewound => {
                    return Ok(if previous_full && above_tail(last_viewers) && self.big(read) {
                        End::Cut {
                            viewers: last_viewers.unwrap_or(0),
                        }
                    } else {
                        End::Listing("a cursor seen before")
                    });
                }
                Some(next) => {
                    led_nowhere = None;
                    following_dead = leads_nowhere(next);
                    report.cursors.push(next.to_string());
                    before = Some(cursor.replace(next.to_string()));
                }
            }
        }
    }

    /// Whether this partition is one every language that big has a tail for: a hundred
    /// streams or more read, or counted at the slot before.
    fn big(&self, read: u64) -> bool {
        read >= PAGE_SIZE || self.partition.counted_streams() >= PAGE_SIZE
    }

    /// The listing's end here, after asking again where it was doubtful: believed in
    /// the tail, and for a small partition above it (a few streams of a rare language
    /// may all have viewers); a cut for a big one that ends above the tail.
    fn end_here(&self, last_viewers: Option<u64>, read: u64, how: &'static str) -> End {
        if above_tail(last_viewers) && self.big(read) {
            End::Cut {
                viewers: last_viewers.unwrap_or(0),
            }
        } else {
            End::Listing(how)
        }
    }

    /// One page of the partition, asked again while Helix refuses the cursor or the
    /// page keeps failing (see the module's doc).
    async fn fetch(&self, cursor: Option<&str>, pages: u64) -> Result<HelixPage, Missed> {
        let mut query: Vec<(&str, &str)> = vec![("first", "100")];
        query.extend(self.partition.languages.iter().map(|l| ("language", l.as_str())));
        if let Some(after) = cursor {
            query.push(("after", after));
        }
        // The pages this chain still has to read: the longest chain goes first.
        let left = self.partition.expected_pages().saturating_sub(pages).max(1);
        let options = RequestOptions {
            priority: u32::try_from(left).unwrap_or(u32::MAX),
            max_retries: None,
        };
        let backoff = self.client.backoff();
        let (mut refused, mut rounds) = (0u32, 0u32);
        loop {
            match self.client.get("streams", &query, options).await {
                Ok(page) => return Ok(page),
                Err(error @ HelixError::Rejected { status: 400, .. }) if cursor.is_some() => {
                    if refused >= CURSOR_RETRIES {
                        return Err(Missed::Cursor(error));
                    }
                    tokio::time::sleep(backoff.delay(refused)).await;
                    refused += 1;
                }
                Err(error @ (HelixError::GaveUp { .. } | HelixError::RateLimited { .. })) => {
                    if rounds >= FAILED_PAGE_ROUNDS {
                        return Err(Missed::Page(error));
                    }
                    rounds += 1;
                    warn!(partition = %self.partition.name(), %error, round = rounds, "a page keeps failing; asking again after a pause");
                    tokio::time::sleep(backoff.cap.max(Duration::from_millis(10))).await;
                }
                Err(error @ (HelixError::Credentials { .. } | HelixError::Unauthorized { .. })) => {
                    return Err(Missed::Run(error));
                }
                Err(error) => return Err(Missed::Page(error)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_whose_next_part_is_empty_leads_nowhere() {
        // twitchdev/issues#199: {"b":{"Cursor":"{s:2171.94…}"},"a":{"Cursor":""}}.
        assert!(leads_nowhere(
            "eyJiIjp7IkN1cnNvciI6IntzOjIxNzEuOTR9In0sImEiOnsiQ3Vyc29yIjoiIn19"
        ));
        // One whose next part holds a score, as the reference's example does.
        let keyset = "eyJiIjp7IkN1cnNvciI6ImV5SnpJam8zT0N3aVpDSTZabUZzYzJWOSJ9LCJhIjp7IkN1cnNvciI6ImV5SnpJam94TGpVc0ltUWlPbVpoYkhObGZRPT0ifX0=";
        assert!(keyset_cursor(keyset));
        assert!(!keyset_cursor(
            "eyJiIjp7IkN1cnNvciI6IntzOjIxNzEuOTR9In0sImEiOnsiQ3Vyc29yIjoiIn19"
        ));
        assert!(!leads_nowhere(
            "eyJiIjp7IkN1cnNvciI6ImV5SnpJam8zT0N3aVpDSTZabUZzYzJWOSJ9LCJhIjp7IkN1cnNvciI6ImV5SnpJam94TGpVc0ltUWlPbVpoYkhObGZRPT0ifX0="
        ));
        for opaque in ["IA", "", "not base64!", "e30="] {
            assert!(!leads_nowhere(opaque) && !keyset_cursor(opaque), "{opaque}");
        }
    }

    fn seen(ids: std::ops::Range<u32>, viewers: u64) -> Vec<Seen> {
        ids.map(|i| Seen {
            id: i.to_string().into(),
            viewers,
            language: "en".into(),
        })
        .collect()
    }

    #[test]
    fn a_segment_meets_the_one_below_only_where_that_one_began() {
        let segments = Segments::new(3);
        // Segment 1 has not read its first page: nothing to meet yet.
        assert!(!segments.met(0, &seen(0..100, 3)));
        segments.began(1, &seen(1_000..1_100, 5));
        // Streams it read that rose above it are not the meeting...
        let mut risen = seen(0..90, 9);
        risen.extend(seen(1_000..1_010, 9));
        assert!(!segments.met(0, &risen));
        // ...nor is a page still above the viewers it began at, however many it shares.
        assert!(!segments.met(0, &seen(1_000..1_100, 6)));
        // Half a page of them, at or below its top: met.
        let mut meeting = seen(0..50, 5);
        meeting.extend(seen(1_000..1_050, 5));
        assert!(segments.met(0, &meeting));
        // So is half a page of what it read after its first page: the meeting holds
        // when the first page's streams have moved on.
        segments.read(1, &seen(1_100..1_200, 4));
        let mut later = seen(0..40, 4);
        later.extend(seen(1_100..1_160, 4));
        assert!(segments.met(0, &later));
        // A first page of a few streams is the listing's very end: too little to
        // recognise, so the segment above reads on to the next mark (none: the end).
        segments.began(2, &seen(2_000..2_003, 0));
        assert!(!segments.met(1, &seen(2_000..2_003, 0)));
        segments.set(1, SegmentState::Gone);
        assert!(!segments.met(0, &meeting), "a gone segment is passed over");
    }

    #[test]
    fn a_page_of_own_streams_past_the_page_before_is_catching_up_not_a_loop() {
        let mut read = Read::default();
        assert_eq!(read.take(&seen(0..100, 5)), (100, false));
        // The top asked again comes back short; the page after its cursor holds
        // streams the first page read below it: catching up, no loop.
        assert_eq!(read.take(&seen(0..51, 5)), (0, false));
        assert_eq!(read.take(&seen(45..100, 5)), (0, true));
        // On past where it had been: new streams.
        assert_eq!(read.take(&seen(90..190, 3)), (90, false));
        // The end overlapping the page before, and a loop back to the top: not.
        assert_eq!(read.take(&seen(175..190, 1)), (0, false));
        assert_eq!(read.take(&seen(0..100, 5)), (0, false));
    }

    #[test]
    fn a_jump_up_to_many_more_viewers_is_the_listing_starting_over() {
        assert!(jumped_up(Some(1), &seen(0..1, 5_000)));
        assert!(!jumped_up(Some(40), &seen(0..1, 45)), "overlap and drift are no jump");
        assert!(!jumped_up(None, &seen(0..1, 5_000)));
    }
}
