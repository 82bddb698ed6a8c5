//! Substring search for the short fixed texts detectors anchor on.
//!
//! `memchr::memmem::find` builds a searcher on every call, which costs more than scanning a
//! 150-byte log line. These helpers jump between occurrences of the needle's first byte with
//! `memchr` and compare the rest: at most `hay.len() × needle.len()` byte comparisons, linear in
//! the line for our fixed needles (none longer than 60 bytes).

/// Index of the first occurrence of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = memchr::memchr(first, hay.get(from..)?) {
        let at = from + i;
        if hay.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Index of the last occurrence of `needle` in `hay`.
pub(crate) fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut end = hay.len();
    while let Some(at) = memchr::memrchr(first, &hay[..end]) {
        if hay.get(at + 1..at + needle.len()) == Some(rest) {
            return Some(at);
        }
        end = at;
    }
    None
}

/// Every (possibly overlapping) occurrence of `needle` in `hay`, left to right.
pub(crate) fn find_iter<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + find(hay.get(from..)?, needle)?;
        from = at + 1;
        Some(at)
    })
}

/// A fixed text searched for on the hot path, with its `memmem` searchers built once.
pub(crate) struct Fixed {
    text: &'static [u8],
    forward: std::sync::OnceLock<memchr::memmem::Finder<'static>>,
    reverse: std::sync::OnceLock<memchr::memmem::FinderRev<'static>>,
}

impl Fixed {
    pub(crate) const fn new(text: &'static [u8]) -> Self {
        Fixed {
            text,
            forward: std::sync::OnceLock::new(),
            reverse: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    pub(crate) fn find(&self, hay: &[u8]) -> Option<usize> {
        self.forward
            .get_or_init(|| memchr::memmem::Finder::new(self.text))
            .find(hay)
    }

    pub(crate) fn rfind(&self, hay: &[u8]) -> Option<usize> {
        self.reverse
            .get_or_init(|| memchr::memmem::FinderRev::new(self.text))
            .rfind(hay)
    }

    /// Every occurrence, overlapping ones included (a skipped overlap could hide the server's
    /// own text behind a sender's copy).
    pub(crate) fn find_iter<'a>(&'a self, hay: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        let mut from = 0;
        std::iter::from_fn(move || {
            let at = from + self.find(hay.get(from..)?)?;
            from = at + 1;
            Some(at)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_like_std() {
        let hay = b"a: b: c:: d";
        assert_eq!(find(hay, b": "), Some(1));
        assert_eq!(rfind(hay, b": "), Some(8));
        assert_eq!(find_iter(hay, b": ").collect::<Vec<_>>(), vec![1, 4, 8]);
        assert_eq!(find_iter(b"aaa", b"aa").collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(find(hay, b"zz"), None);
        assert_eq!(find(b"", b"a"), None);
        assert_eq!(rfind(b"ab", b"abc"), None);
        assert_eq!(find(b"ab", b""), None);
        static Q: Fixed = Fixed::new(b"' f '");
        assert_eq!(Q.find_iter(b"x' f ' f '").collect::<Vec<_>>(), vec![1, 5]);
        assert_eq!(Q.rfind(b"x' f ' f '"), Some(5));
        assert_eq!(Q.find(b"nothing"), None);
    }
}
