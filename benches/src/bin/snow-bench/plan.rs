//! The sizes of a run: the full benchmark, or the smoke run of CI.

/// Sizes and repetitions.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) smoke: bool,
    /// Timed runs of each contender (after one warm-up run when `warm_up`).
    pub(crate) reps: usize,
    pub(crate) warm_up: bool,
    /// Incidents in the instance.
    pub(crate) table: u64,
    /// Records per page in W1.
    pub(crate) page: u64,
    /// Records of the main W1 comparison.
    pub(crate) w1: u64,
    /// Other sizes of the chart (the main size is drawn too), with their repetitions.
    pub(crate) chart_sizes: Vec<u64>,
    pub(crate) chart_reps: usize,
    /// The flatness check: every record of the table, with its repetitions.
    pub(crate) w1_big: u64,
    pub(crate) big_reps: usize,
    /// W2: sequential GETs (pysnow makes fewer, compared per request).
    pub(crate) w2: usize,
    pub(crate) w2_pysnow: usize,
    /// Incidents of the TLS instance of W2.
    pub(crate) tls_table: u64,
    /// W3: GETs, and how many in flight (aiosnow makes fewer, compared per request).
    pub(crate) w3: usize,
    pub(crate) w3_aiosnow: usize,
    pub(crate) in_flight: usize,
    /// W4: pages, their size, the added latency and the concurrency compared.
    pub(crate) w4_pages: u64,
    pub(crate) w4_page: u64,
    pub(crate) w4_latency_ms: u64,
    pub(crate) w4_concurrency: usize,
    /// W5: concurrent requests on an expired token.
    pub(crate) w5: usize,
}

impl Plan {
    pub(crate) fn full(reps: Option<usize>) -> Self {
        Plan {
            smoke: false,
            reps: reps.unwrap_or(5),
            warm_up: true,
            table: 1_000_000,
            page: 10_000,
            w1: 200_000,
            chart_sizes: vec![50_000, 100_000, 500_000],
            chart_reps: 3,
            w1_big: 1_000_000,
            big_reps: 3,
            w2: 10_000,
            w2_pysnow: 2_000,
            tls_table: 20_000,
            w3: 50_000,
            w3_aiosnow: 5_000,
            in_flight: 64,
            w4_pages: 100,
            w4_page: 100,
            w4_latency_ms: 20,
            w4_concurrency: 8,
            w5: 1_000,
        }
    }

    pub(crate) fn smoke(reps: Option<usize>) -> Self {
        Plan {
            smoke: true,
            reps: reps.unwrap_or(1),
            warm_up: false,
            table: 3_000,
            page: 500,
            w1: 2_000,
            chart_sizes: vec![1_000],
            chart_reps: 1,
            w1_big: 3_000,
            big_reps: 1,
            w2: 200,
            w2_pysnow: 50,
            tls_table: 300,
            w3: 1_000,
            w3_aiosnow: 100,
            in_flight: 64,
            w4_pages: 10,
            w4_page: 20,
            w4_latency_ms: 20,
            w4_concurrency: 8,
            w5: 100,
        }
    }

    /// The sys_ids the GET workloads need.
    pub(crate) fn ids_needed(&self) -> usize {
        self.w2.max(self.w3).max(self.w5)
    }
}
