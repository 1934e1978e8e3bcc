// The analyzers of scikit-learn's vectorizers over UTF-8 text: "word" (the default token pattern,
// stop words, word n-grams), "char" and "char_wb" (character n-grams). Each turns one document into
// the sequence of terms scikit-learn's Python analyzer yields, in the same order, as UTF-8 bytes.
//
// Lowercasing and accent stripping are done before (by Python's own str methods, so they are
// Unicode-exact); what is left here is what `re` and str.split() do: \w, \s and \b by the tables of
// the Python fastml was built for (unicode_classes.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fastml/text.hpp"
#include "term_table.hpp"
#include "text/unicode_classes.hpp"

namespace fastml::text {

enum class AnalyzerKind : int { word = 0, chars = 1, chars_wb = 2 };

struct AnalyzerOptions {
  AnalyzerKind kind = AnalyzerKind::word;
  int min_n = 1, max_n = 1;   // ngram_range
  int min_token_chars = 2;    // \b\w\w+\b: 2; \b\w+\b: 1
  const TermTable<>* stop_words = nullptr;  // word analyzer only; null: none
};

namespace detail {

inline bool in_ranges(std::uint32_t c, const CodeRange* ranges, std::size_t count) {
  const CodeRange* end = ranges + count;
  const CodeRange* r = std::upper_bound(ranges, end, c, [](std::uint32_t v, const CodeRange& range) {
    return v < range.first;
  });
  return r != ranges && c <= (r - 1)->last;
}

// Decodes the code point at p (p < end) and advances p. The input is trusted to be what Python
// encodes (see Document); a truncated sequence at the end is read as the bytes that are there.
inline std::uint32_t next_code_point(const unsigned char*& p, const unsigned char* end) {
  const std::uint32_t b0 = *p++;
  if (b0 < 0x80) return b0;
  int extra = b0 >= 0xF0 ? 3 : b0 >= 0xE0 ? 2 : 1;
  std::uint32_t c = b0 & (0x3F >> extra);
  for (; extra > 0 && p < end; --extra) c = (c << 6) | (*p++ & 0x3F);
  return c;
}

}  // namespace detail

// \w of Python's `re` for str patterns: str.isalnum() or "_".
inline bool is_word(std::uint32_t c) {
  static constexpr auto ascii = [] {
    std::array<bool, 128> table{};
    for (int b = 0; b < 128; ++b)
      table[b] = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b == '_';
    return table;
  }();
  if (c < 0x80) return ascii[c];
  return detail::in_ranges(c, kWordRanges, kWordRangesCount);
}

// \s of `re` and the separators of str.split(): str.isspace().
inline bool is_space(std::uint32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  return detail::in_ranges(c, kSpaceRanges, kSpaceRangesCount);
}

// Turns documents into terms. One Analyzer per thread: it keeps its buffers between documents.
class Analyzer {
 public:
  explicit Analyzer(const AnalyzerOptions& options) : options_(options) {}

  // Calls emit(const char* data, std::size_t size) for each term of `doc`, in scikit-learn's order.
  template <class Emit>
  void analyze(const Document& doc, Emit&& emit) {
    switch (options_.kind) {
      case AnalyzerKind::word: return words(doc, emit);
      case AnalyzerKind::chars: return chars(doc, emit);
      case AnalyzerKind::chars_wb: return chars_wb(doc, emit);
    }
  }

 private:
  struct Span {
    std::size_t begin, end;  // byte offsets
  };

  // The token pattern \b\w{m,}\b finds exactly the maximal runs of word characters that are at
  // least m long: a match can start only after a non-word character, and \w+ then takes the run.
  template <class Emit>
  void words(const Document& doc, Emit& emit) {
    const auto* begin = reinterpret_cast<const unsigned char*>(doc.data);
    const auto* end = begin + doc.size;
    tokens_.clear();
    const unsigned char* p = begin;
    while (p < end) {
      const unsigned char* start = p;
      if (!is_word(detail::next_code_point(p, end))) continue;
      int length = 1;
      const unsigned char* run_end = p;
      while (p < end) {
        const unsigned char* q = p;
        if (!is_word(detail::next_code_point(q, end))) break;
        p = run_end = q;
        ++length;
      }
      if (length >= options_.min_token_chars) add_token(doc, start - begin, run_end - begin);
    }
    const std::size_t n = tokens_.size();
    int min_n = options_.min_n;
    if (min_n == 1) {
      for (const Span& t : tokens_) emit(doc.data + t.begin, t.end - t.begin);
      min_n = 2;
    }
    for (std::size_t k = static_cast<std::size_t>(min_n);
         k <= static_cast<std::size_t>(options_.max_n) && k <= n; ++k) {
      for (std::size_t i = 0; i + k <= n; ++i) {
        buffer_.assign(doc.data + tokens_[i].begin, tokens_[i].end - tokens_[i].begin);
        for (std::size_t j = i + 1; j < i + k; ++j) {
          buffer_.push_back(' ');
          buffer_.append(doc.data + tokens_[j].begin, tokens_[j].end - tokens_[j].begin);
        }
        emit(buffer_.data(), buffer_.size());
      }
    }
  }

  void add_token(const Document& doc, std::size_t begin, std::size_t end) {
    if (options_.stop_words &&
        options_.stop_words->find(doc.data + begin, end - begin) != TermTable<>::npos)
      return;
    tokens_.push_back({begin, end});
  }

  // scikit-learn first replaces each run of two or more whitespace characters by one space
  // (re.sub(r"\s\s+", " ", doc)); a lone whitespace character stays as it is. Fills text_ with the
  // result and starts_ with the byte offset of each code point (plus the end).
  void normalize_white_spaces(const Document& doc) {
    const auto* begin = reinterpret_cast<const unsigned char*>(doc.data);
    const auto* end = begin + doc.size;
    text_.clear();
    starts_.clear();
    const unsigned char* p = begin;
    while (p < end) {
      const unsigned char* start = p;
      if (!is_space(detail::next_code_point(p, end))) {
        starts_.push_back(text_.size());
        text_.append(reinterpret_cast<const char*>(start), p - start);
        continue;
      }
      const unsigned char* q = p;
      bool run = false;
      while (q < end) {
        const unsigned char* r = q;
        if (!is_space(detail::next_code_point(r, end))) break;
        q = r;
        run = true;
      }
      starts_.push_back(text_.size());
      if (run) {
        text_.push_back(' ');
        p = q;
      } else {
        text_.append(reinterpret_cast<const char*>(start), p - start);
      }
    }
    starts_.push_back(text_.size());
  }

  template <class Emit>
  void chars(const Document& doc, Emit& emit) {
    normalize_white_spaces(doc);
    const std::size_t length = starts_.size() - 1;
    for (std::size_t k = static_cast<std::size_t>(options_.min_n);
         k <= static_cast<std::size_t>(options_.max_n) && k <= length; ++k)
      for (std::size_t i = 0; i + k <= length; ++i)
        emit(text_.data() + starts_[i], starts_[i + k] - starts_[i]);
  }

  // Each whitespace-separated word, padded with a space on both sides, gives its n-grams; a word
  // shorter than n gives itself once, for the first such n only (scikit-learn's _char_wb_ngrams).
  template <class Emit>
  void chars_wb(const Document& doc, Emit& emit) {
    const auto* begin = reinterpret_cast<const unsigned char*>(doc.data);
    const auto* end = begin + doc.size;
    const unsigned char* p = begin;
    while (p < end) {
      const unsigned char* start = p;
      if (is_space(detail::next_code_point(p, end))) continue;
      // a word: [start, word_end)
      text_.assign(1, ' ');
      starts_.assign(1, 0);
      starts_.push_back(1);
      text_.append(reinterpret_cast<const char*>(start), p - start);
      const unsigned char* word_end = p;
      while (p < end) {
        const unsigned char* q = p;
        if (is_space(detail::next_code_point(q, end))) break;
        starts_.push_back(text_.size());
        text_.append(reinterpret_cast<const char*>(p), q - p);
        p = word_end = q;
      }
      starts_.push_back(text_.size());
      text_.push_back(' ');
      starts_.push_back(text_.size());
      p = word_end;
      const std::size_t w_len = starts_.size() - 1;  // code points, padding included
      for (std::size_t k = static_cast<std::size_t>(options_.min_n);
           k <= static_cast<std::size_t>(options_.max_n); ++k) {
        std::size_t offset = 0;
        emit(text_.data(), starts_[std::min(k, w_len)]);
        while (offset + k < w_len) {
          ++offset;
          emit(text_.data() + starts_[offset], starts_[offset + k] - starts_[offset]);
        }
        if (offset == 0) break;
      }
    }
  }

  AnalyzerOptions options_;
  std::vector<Span> tokens_;
  std::vector<std::size_t> starts_;
  std::string buffer_, text_;
};

}  // namespace fastml::text
