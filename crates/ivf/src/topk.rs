//! Bounded selection of the `cap` smallest `(distance, payload)` pairs
//! (a max-heap whose root is the current admission threshold).
//! Ties are broken by the payload, so results are deterministic.

/// A `(distance, payload)` pair ordered by distance (IEEE total order) then payload: the
/// element of the scans' candidate heaps (wrap in `std::cmp::Reverse` for a min-heap).
#[derive(Clone, Copy, Debug)]
pub struct Scored(pub f32, pub u64);
impl PartialEq for Scored {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scored {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
    }
}

/// Keeps the `cap` smallest pairs seen.
#[derive(Clone, Debug, Default)]
pub struct TopK {
    cap: usize,
    heap: Vec<(f32, u64)>,
}

#[inline(always)]
fn greater(a: &(f32, u64), b: &(f32, u64)) -> bool {
    match a.0.total_cmp(&b.0) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => a.1 > b.1,
    }
}

impl TopK {
    /// Empty selection of capacity `cap`.
    pub fn new(cap: usize) -> Self {
        TopK {
            cap,
            heap: Vec::with_capacity(cap),
        }
    }

    /// Empties and sets a new capacity, keeping the allocation.
    pub fn reset(&mut self, cap: usize) {
        self.cap = cap;
        self.heap.clear();
        self.heap.reserve(cap);
    }

    /// Number of pairs held.
    #[inline]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if nothing is held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// A pair with distance `>=` this value cannot enter (∞ until full).
    #[inline(always)]
    pub fn threshold(&self) -> f32 {
        if self.heap.len() < self.cap {
            f32::INFINITY
        } else if self.cap == 0 {
            f32::NEG_INFINITY
        } else {
            self.heap[0].0
        }
    }

    /// Offers a pair.
    #[inline]
    pub fn push(&mut self, d: f32, payload: u64) {
        let item = (d, payload);
        if self.heap.len() < self.cap {
            self.heap.push(item);
            let mut i = self.heap.len() - 1;
            while i > 0 {
                let p = (i - 1) / 2;
                if greater(&self.heap[i], &self.heap[p]) {
                    self.heap.swap(i, p);
                    i = p;
                } else {
                    break;
                }
            }
        } else if self.cap > 0 && greater(&self.heap[0], &item) {
            self.heap[0] = item;
            let n = self.heap.len();
            let mut i = 0;
            loop {
                let (l, r) = (2 * i + 1, 2 * i + 2);
                let mut m = i;
                if l < n && greater(&self.heap[l], &self.heap[m]) {
                    m = l;
                }
                if r < n && greater(&self.heap[r], &self.heap[m]) {
                    m = r;
                }
                if m == i {
                    break;
                }
                self.heap.swap(i, m);
                i = m;
            }
        }
    }

    /// Moves the held pairs, ascending, into `out` (cleared first).
    pub fn drain_sorted(&mut self, out: &mut Vec<(f32, u64)>) {
        out.clear();
        out.append(&mut self.heap);
        out.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn keeps_smallest() {
        let mut r = Rng::new(1);
        for cap in [0usize, 1, 5, 100] {
            let vals: Vec<f32> = (0..1000).map(|_| r.next_f64() as f32).collect();
            let mut t = TopK::new(cap);
            for (i, &v) in vals.iter().enumerate() {
                t.push(v, i as u64);
            }
            let mut got = vec![];
            t.drain_sorted(&mut got);
            let mut exp: Vec<(f32, u64)> = vals
                .iter()
                .enumerate()
                .map(|(i, &v)| (v, i as u64))
                .collect();
            exp.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            exp.truncate(cap);
            assert_eq!(got, exp);
        }
    }
}

/// Amortised selection of the `cap` smallest pairs: candidates below the
/// current threshold are appended to a buffer that is cut back to `cap`
/// (with `select_nth_unstable`) whenever it doubles. Cheaper than a heap
/// when many candidates pass the threshold. The kept set is exactly the
/// `cap` smallest by `(distance, payload)`.
#[derive(Clone, Debug, Default)]
pub struct Reservoir {
    cap: usize,
    buf: Vec<(f32, u64)>,
    thr: f32,
}

#[inline]
fn cmp_pair(a: &(f32, u64), b: &(f32, u64)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

impl Reservoir {
    /// Empties and sets the capacity (≥ 1).
    pub fn reset(&mut self, cap: usize) {
        self.try_reset(cap).expect("reservoir memory");
    }

    /// [`Reservoir::reset`], failing instead of aborting when the memory cannot be had.
    pub fn try_reset(&mut self, cap: usize) -> Result<(), std::collections::TryReserveError> {
        self.cap = cap.max(1);
        self.buf.clear();
        self.thr = f32::INFINITY;
        self.buf.try_reserve(2 * self.cap + 64)
    }

    /// Candidates with a distance above this value are certainly not kept.
    #[inline(always)]
    pub fn threshold(&self) -> f32 {
        self.thr
    }

    /// Offers a pair (callers may pre-filter with `d <= threshold()`).
    #[inline(always)]
    pub fn push(&mut self, d: f32, payload: u64) {
        if d <= self.thr {
            self.buf.push((d, payload));
            if self.buf.len() >= 2 * self.cap + 64 {
                self.shrink();
            }
        }
    }

    fn shrink(&mut self) {
        if self.buf.len() > self.cap {
            self.buf.select_nth_unstable_by(self.cap - 1, cmp_pair);
            self.buf.truncate(self.cap);
            self.thr = self.buf[self.cap - 1].0;
        }
    }

    /// Moves the kept pairs, ascending by `(distance, payload)`, into `out`.
    pub fn drain_sorted(&mut self, out: &mut Vec<(f32, u64)>) {
        self.shrink();
        out.clear();
        out.append(&mut self.buf);
        out.sort_unstable_by(cmp_pair);
    }
}

#[cfg(test)]
mod reservoir_tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn reservoir_keeps_smallest_with_ties() {
        let mut r = Rng::new(2);
        for cap in [1usize, 3, 50, 500] {
            // few distinct values -> many ties
            let vals: Vec<f32> = (0..3000).map(|_| (r.below(40) as f32) * 0.5).collect();
            let mut res = Reservoir::default();
            res.reset(cap);
            for (i, &v) in vals.iter().enumerate() {
                res.push(v, i as u64);
            }
            let mut got = vec![];
            res.drain_sorted(&mut got);
            let mut exp: Vec<(f32, u64)> = vals
                .iter()
                .enumerate()
                .map(|(i, &v)| (v, i as u64))
                .collect();
            exp.sort_by(cmp_pair);
            exp.truncate(cap);
            assert_eq!(got, exp);
        }
    }
}
