// Counting and hashing of analysed documents (see fastml/text.hpp).
//
// A batch is cut into one contiguous range of documents per thread. Each thread analyses its
// documents with its own Analyzer into its own Part: its own table of the terms it met (learned
// vocabulary) and the (term, count) entries of each document. A document's record says which Part
// holds its entries. At the end the Parts' tables are merged into one vocabulary, which is sorted
// by bytes before columns are numbered, so no result depends on how documents met threads.
#include "fastml/text.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "analyze.hpp"
#include "fastml/openmp_helpers.h"
#include "term_table.hpp"

namespace fastml::text {
namespace {

// Rough one-thread cost of analysing and counting a byte of text (fastml_region_threads).
constexpr double kByteNs = 4.0;

using id_t = TermTable<>::id_t;

struct Entry {
  id_t term;
  std::uint32_t count;
};

// The analyzer's options for spec; its stop words go into `stop_words`, which must outlive them.
AnalyzerOptions analyzer_options(const AnalyzerSpec& spec, TermTable<>& stop_words) {
  if (spec.kind < 0 || spec.kind > 2) throw std::invalid_argument("unknown analyzer kind");
  if (spec.min_n < 1 || spec.max_n < spec.min_n)
    throw std::invalid_argument("ngram_range must be (min_n, max_n) with 1 <= min_n <= max_n");
  if (spec.min_token_chars < 1) throw std::invalid_argument("min_token_chars must be >= 1");
  AnalyzerOptions options;
  options.kind = static_cast<AnalyzerKind>(spec.kind);
  options.min_n = spec.min_n;
  options.max_n = spec.max_n;
  options.min_token_chars = spec.min_token_chars;
  for (const std::string& word : spec.stop_words) stop_words.insert(word.data(), word.size());
  options.stop_words = spec.stop_words.empty() ? nullptr : &stop_words;
  return options;
}

std::size_t total_bytes(const Document* docs, std::size_t n) {
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) bytes += docs[i].size;
  return bytes;
}

// Threads worth waking for `work_ns` of one-thread work over n items (at least one item each).
int range_threads(std::size_t n, double work_ns, int n_threads) {
  const int threads = fastml_region_threads(work_ns, n_threads);
  return static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(threads, n)));
}

// Runs body(thread, first, last) over `threads` contiguous ranges of [0, n); rethrows the first
// exception after the region.
template <class Body>
void for_ranges(int threads, std::size_t n, Body&& body) {
  FirstException error;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int t = 0; t < threads; ++t)
    error.run([&] { body(t, n * t / threads, n * (t + 1) / threads); });
  error.rethrow();
}

// Whether UTF-8 bytes hold a surrogate code point (U+D800-U+DFFF: ED A0-BF xx), which only
// Python's "surrogatepass" writes.
bool has_surrogate(const char* data, std::size_t size) {
  for (const char* p = data; (p = static_cast<const char*>(std::memchr(p, 0xED, data + size - p)));
       ++p)
    if (p + 1 < data + size && static_cast<unsigned char>(p[1]) >= 0xA0) return true;
  return false;
}

// Sorts ids in place (size 1 or more) and appends (id, run length) to out, in increasing id order.
void count_runs(std::vector<id_t>& ids, std::vector<Entry>& out) {
  std::sort(ids.begin(), ids.end());
  std::size_t i = 0;
  while (i < ids.size()) {
    std::size_t j = i + 1;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    out.push_back({ids[i], static_cast<std::uint32_t>(j - i)});
    i = j;
  }
}

}  // namespace

std::vector<std::string> document_terms(const AnalyzerSpec& spec, const Document& doc) {
  TermTable<> stop_words;
  Analyzer analyzer(analyzer_options(spec, stop_words));
  std::vector<std::string> terms;
  analyzer.analyze(doc, [&](const char* data, std::size_t size) { terms.emplace_back(data, size); });
  return terms;
}

// What a part keeps per term it met, in the term's record (the cache line a lookup reads anyway).
struct TermCounts {
  std::uint32_t last_doc = 0;  // the part's number (from 1) of the last document that had the term
  std::uint32_t doc_pos = 0;   // the term's entry in that document's entries
  std::uint32_t df = 0;        // documents that had it
  std::uint32_t first_id = 0;  // with first_doc: where it was seen first (see first_seen below)
  std::uint64_t tf = 0;        // occurrences
  std::uint64_t first_doc = 0;
};
using CountTable = TermTable<TermCounts>;

// scikit-learn stores a fitted count matrix's rows in the order the vocabulary first met their
// terms (by document, then by place in the document), only the column numbers are alphabetical;
// sums over a row (the TF-IDF norms) follow that order. A part numbers the terms new to it in that
// order over its own documents, and a term is met first in the part of its first document, so
// (first document, id there) orders the terms as scikit-learn's first sighting does.
std::uint64_t first_seen(const TermCounts& c) { return (c.first_doc << 32) | c.first_id; }

struct TermCounter::State {
  struct Part {
    explicit Part(const AnalyzerOptions& options) : analyzer(options) {}
    Analyzer analyzer;
    CountTable terms;              // learned vocabulary: the terms this part met
    std::uint32_t n_docs = 0;      // documents analysed by this part
    std::vector<Entry> entries;    // every document's (term, count), one document after the other
    // One document's terms before they are counted: (offset in pending_bytes, size, hash)
    struct Pending {
      std::size_t offset, size;
      std::uint64_t hash;
    };
    std::vector<Pending> pending;
    std::string pending_bytes;
    std::vector<id_t> ids;
  };
  struct Record {
    std::uint32_t part;
    std::uint64_t begin, end;  // in parts[part].entries
  };

  TermTable<> stop_words;
  AnalyzerOptions options;
  int n_threads;
  bool fixed;
  TermTable<> fixed_terms;  // fixed vocabulary
  std::vector<std::int64_t> fixed_columns;
  std::vector<std::unique_ptr<Part>> parts;
  std::vector<Record> records;

  // Learned vocabulary, once merged: all parts' terms, and for each part's term its merged id.
  CountTable merged;
  std::vector<std::vector<id_t>> to_merged;
  // Once numbered: merged ids in column order; per part's term, its column (-1: dropped) and
  // first sighting (the order of its row entries).
  std::vector<id_t> kept;
  std::vector<std::vector<std::int64_t>> to_column;
  std::vector<std::vector<std::uint64_t>> to_first_seen;
  bool finished = false;  // no more documents: the parts are merged (learned)
  bool numbered = false;  // columns are numbered: the matrix can be built

  Part& part(std::size_t t) {
    while (parts.size() <= t) parts.push_back(std::make_unique<Part>(options));
    return *parts[t];
  }

  // Looks up (fixed) or inserts (learned) the pending terms, a few ahead of each other so that
  // their cache misses overlap, and calls use(id, counts) for each (counts: null when fixed).
  template <class Use>
  void look_up(Part& part, Use&& use) {
    constexpr std::size_t kSlotsAhead = 16, kRecordsAhead = 8;
    const auto& pending = part.pending;
    const std::size_t n = pending.size();
    for (std::size_t j = 0; j < n; ++j) {
      const auto& p = pending[j];
      const char* data = part.pending_bytes.data() + p.offset;
      if (fixed) {
        if (j + kSlotsAhead < n) fixed_terms.prefetch_slot(pending[j + kSlotsAhead].hash);
        if (j + kRecordsAhead < n) fixed_terms.prefetch_record(pending[j + kRecordsAhead].hash);
        const id_t id = fixed_terms.find(data, p.size, p.hash);
        if (id != TermTable<>::npos) use(id, nullptr);
      } else {
        if (j + kSlotsAhead < n) part.terms.prefetch_slot(pending[j + kSlotsAhead].hash);
        if (j + kRecordsAhead < n) part.terms.prefetch_record(pending[j + kRecordsAhead].hash);
        const auto found = part.terms.insert(data, p.size, p.hash);
        use(found.id, found.payload);
      }
    }
  }

  void analyze(Part& part, const Document& doc, std::uint64_t doc_index) {
    part.pending.clear();
    part.pending_bytes.clear();
    part.analyzer.analyze(doc, [&](const char* data, std::size_t size) {
      part.pending.push_back({part.pending_bytes.size(), size, hash_bytes(data, size)});
      part.pending_bytes.append(data, size);
    });
    const std::size_t begin = part.entries.size();
    if (fixed) {  // the table is shared: count by sorting the document's ids
      part.ids.clear();
      look_up(part, [&](id_t id, TermCounts*) { part.ids.push_back(id); });
      count_runs(part.ids, part.entries);
    } else {  // counted in the terms' records, entries in first-seen order
      const std::uint32_t doc = ++part.n_docs;
      look_up(part, [&](id_t id, TermCounts* c) {
        if (c->df == 0) {
          c->first_doc = doc_index;
          c->first_id = id;
        }
        if (c->last_doc != doc) {
          c->last_doc = doc;
          c->doc_pos = static_cast<std::uint32_t>(part.entries.size() - begin);
          c->df += 1;
          part.entries.push_back({id, 1});
        } else {
          part.entries[begin + c->doc_pos].count += 1;
        }
        c->tf += 1;
      });
    }
  }

  void finish_adding() {
    if (!finished) merge();
    finished = true;
  }

  void merge() {
    // The first part's table becomes the merged one; the others' terms are added to it.
    to_merged.assign(parts.size(), {});
    if (parts.empty()) return;
    merged = std::move(parts[0]->terms);
    to_merged[0].resize(merged.size());
    std::iota(to_merged[0].begin(), to_merged[0].end(), id_t(0));
    for (std::size_t p = 1; p < parts.size(); ++p) {
      const CountTable& terms = parts[p]->terms;
      auto& map = to_merged[p];
      map.resize(terms.size());
      for (id_t id = 0; id < terms.size(); ++id) {
        const std::string_view term = terms.term(id);
        const TermCounts& c = terms.payload(id);
        const auto m = merged.insert(term.data(), term.size(), terms.hash(id));
        TermCounts& into = *m.payload;
        if (into.df == 0 || c.first_doc < into.first_doc) {
          into.first_doc = c.first_doc;
          into.first_id = c.first_id;
        }
        into.df += c.df;
        into.tf += c.tf;
        map[id] = m.id;
      }
    }
  }

  void number_columns() {
    std::vector<std::int64_t> column(merged.size(), -1);
    for (std::size_t c = 0; c < kept.size(); ++c) column[kept[c]] = static_cast<std::int64_t>(c);
    to_column.assign(parts.size(), {});
    to_first_seen.assign(parts.size(), {});
    for (std::size_t p = 0; p < parts.size(); ++p) {
      const auto& map = to_merged[p];
      to_column[p].resize(map.size());
      to_first_seen[p].resize(map.size());
      for (std::size_t id = 0; id < map.size(); ++id) {
        to_column[p][id] = column[map[id]];
        to_first_seen[p][id] = first_seen(merged.payload(map[id]));
      }
    }
    numbered = true;
  }

  std::int64_t column(std::uint32_t p, id_t term) const {
    return fixed ? fixed_columns[term] : to_column[p][term];
  }
  // The order of a row's entries: scikit-learn's first sighting (learned), the column (fixed).
  std::uint64_t entry_order(std::uint32_t p, id_t term) const {
    return fixed ? static_cast<std::uint64_t>(fixed_columns[term]) : to_first_seen[p][term];
  }
};

TermCounter::TermCounter(const AnalyzerSpec& spec, int n_threads) : state_(new State) {
  if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1");
  state_->options = analyzer_options(spec, state_->stop_words);
  state_->n_threads = n_threads;
  state_->fixed = false;
}

TermCounter::TermCounter(const AnalyzerSpec& spec, const std::vector<std::string>& terms,
                         const std::vector<std::int64_t>& columns, int n_threads)
    : TermCounter(spec, n_threads) {
  if (terms.size() != columns.size()) throw std::invalid_argument("one column per term");
  State& s = *state_;
  s.fixed = true;
  s.fixed_columns.resize(terms.size());
  for (std::size_t i = 0; i < terms.size(); ++i) {
    const id_t id = s.fixed_terms.insert(terms[i].data(), terms[i].size()).id;
    if (id != i) throw std::invalid_argument("the vocabulary holds a term twice");
    if (columns[i] < 0) throw std::invalid_argument("vocabulary columns must be >= 0");
    s.fixed_columns[i] = columns[i];
  }
  s.finished = s.numbered = true;
}

TermCounter::~TermCounter() = default;

void TermCounter::add(const Document* docs, std::size_t n_docs) {
  State& s = *state_;
  if (!s.fixed && s.finished) throw std::logic_error("documents added after the vocabulary was merged");
  const std::size_t base = s.records.size();
  if (base + n_docs >= (std::uint64_t(1) << 32)) throw std::length_error("2**32 documents or more");
  s.records.resize(base + n_docs);
  const int threads = range_threads(n_docs, kByteNs * total_bytes(docs, n_docs), s.n_threads);
  for (int t = 0; t < threads; ++t) s.part(t);  // created before the region
  for_ranges(threads, n_docs, [&](int t, std::size_t first, std::size_t last) {
    State::Part& part = *s.parts[t];
    for (std::size_t i = first; i < last; ++i) {
      const std::size_t begin = part.entries.size();
      s.analyze(part, docs[i], base + i);
      s.records[base + i] = {static_cast<std::uint32_t>(t), begin, part.entries.size()};
    }
  });
}

std::size_t TermCounter::n_documents() const { return state_->records.size(); }

std::size_t TermCounter::n_terms() {
  State& s = *state_;
  if (s.fixed) return s.fixed_terms.size();
  s.finish_adding();
  return s.merged.size();
}

void TermCounter::keep(double low, double high, std::vector<std::int64_t>& df,
                       std::vector<std::int64_t>& tf) {
  State& s = *state_;
  if (s.fixed) throw std::logic_error("keep() is for a learned vocabulary");
  s.finish_adding();
  s.kept.clear();
  for (id_t m = 0; m < s.merged.size(); ++m) {
    const double d = static_cast<double>(s.merged.payload(m).df);
    if (d >= low && d <= high) s.kept.push_back(m);
  }
  // Sorted in parallel halves merged once: the order is the terms' (unique), whatever the split.
  const auto less = [&](id_t a, id_t b) { return s.merged.term(a) < s.merged.term(b); };
  const std::size_t n = s.kept.size();
  if (fastml_region_threads(n * 400.0, std::min(s.n_threads, 2)) > 1) {
    const auto middle = s.kept.begin() + n / 2;
#pragma omp parallel sections num_threads(2)
    {
#pragma omp section
      std::sort(s.kept.begin(), middle, less);
#pragma omp section
      std::sort(middle, s.kept.end(), less);
    }
    std::inplace_merge(s.kept.begin(), middle, s.kept.end(), less);
  } else {
    std::sort(s.kept.begin(), s.kept.end(), less);
  }
  df.resize(n);
  tf.resize(n);
  for (std::size_t c = 0; c < n; ++c) {
    df[c] = s.merged.payload(s.kept[c]).df;
    tf[c] = static_cast<std::int64_t>(s.merged.payload(s.kept[c]).tf);
  }
  s.number_columns();
}

void TermCounter::select(const std::vector<std::int64_t>& positions) {
  State& s = *state_;
  if (s.fixed || !s.numbered) throw std::logic_error("select() comes after keep()");
  std::vector<id_t> chosen;
  chosen.reserve(positions.size());
  std::int64_t previous = -1;
  for (std::int64_t p : positions) {
    if (p <= previous || p >= static_cast<std::int64_t>(s.kept.size()))
      throw std::invalid_argument("positions must increase and index the kept terms");
    chosen.push_back(s.kept[p]);
    previous = p;
  }
  s.kept.swap(chosen);
  s.number_columns();
}

std::vector<std::string_view> TermCounter::terms() const {
  const State& s = *state_;
  if (!s.numbered) throw std::logic_error("terms() comes after keep()");
  std::vector<std::string_view> out;
  if (s.fixed) {
    out.resize(s.fixed_terms.size());
    for (id_t id = 0; id < s.fixed_terms.size(); ++id) out[id] = s.fixed_terms.term(id);
  } else {
    for (id_t m : s.kept) out.push_back(s.merged.term(m));
  }
  return out;
}

std::vector<std::int64_t> TermCounter::row_sizes() const {
  const State& s = *state_;
  if (!s.numbered) throw std::logic_error("the matrix comes after keep()");
  const std::size_t n = s.records.size();
  std::vector<std::int64_t> sizes(n);
  for_ranges(range_threads(n, 50.0 * n, s.n_threads), n, [&](int, std::size_t first, std::size_t last) {
    for (std::size_t i = first; i < last; ++i) {
      const auto& r = s.records[i];
      const auto& entries = s.parts[r.part]->entries;
      std::int64_t stored = 0;
      for (std::uint64_t e = r.begin; e < r.end; ++e) stored += s.column(r.part, entries[e].term) >= 0;
      sizes[i] = stored;
    }
  });
  return sizes;
}

template <class Index>
void TermCounter::fill(const std::int64_t* indptr, Index* indices, std::int64_t* counts,
                       bool binary) const {
  const State& s = *state_;
  const std::size_t n = s.records.size();
  for_ranges(range_threads(n, 200.0 * n, s.n_threads), n, [&](int, std::size_t first, std::size_t last) {
    struct Stored {
      std::uint64_t order;
      std::int64_t column;
      std::uint32_t count;
    };
    std::vector<Stored> row;
    for (std::size_t i = first; i < last; ++i) {
      const auto& r = s.records[i];
      const auto& entries = s.parts[r.part]->entries;
      row.clear();
      for (std::uint64_t e = r.begin; e < r.end; ++e) {
        const std::int64_t c = s.column(r.part, entries[e].term);
        if (c >= 0) row.push_back({s.entry_order(r.part, entries[e].term), c, entries[e].count});
      }
      std::sort(row.begin(), row.end(), [](const Stored& a, const Stored& b) { return a.order < b.order; });
      if (static_cast<std::int64_t>(row.size()) != indptr[i + 1] - indptr[i])
        throw std::invalid_argument("indptr does not match row_sizes()");
      std::int64_t at = indptr[i];
      for (const Stored& entry : row) {
        indices[at] = static_cast<Index>(entry.column);
        counts[at++] = binary ? 1 : entry.count;
      }
    }
  });
}

template void TermCounter::fill<std::int32_t>(const std::int64_t*, std::int32_t*, std::int64_t*, bool) const;
template void TermCounter::fill<std::int64_t>(const std::int64_t*, std::int64_t*, std::int64_t*, bool) const;

// ---------------------------------------------------------------------------------------------

std::int32_t murmurhash3_32(const char* data, std::size_t size, std::uint32_t seed) {
  constexpr std::uint32_t c1 = 0xCC9E2D51u, c2 = 0x1B873593u;
  const auto rotl = [](std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  std::uint32_t h = seed;
  const std::size_t n_blocks = size / 4;
  for (std::size_t b = 0; b < n_blocks; ++b) {
    std::uint32_t k;
    std::memcpy(&k, bytes + 4 * b, 4);  // little-endian words, as on the x86 the hash is named for
    k *= c1;
    k = rotl(k, 15);
    k *= c2;
    h ^= k;
    h = rotl(h, 13);
    h = h * 5 + 0xE6546B64u;
  }
  const unsigned char* tail = bytes + 4 * n_blocks;
  std::uint32_t k = 0;
  switch (size & 3) {
    case 3: k ^= std::uint32_t(tail[2]) << 16; [[fallthrough]];
    case 2: k ^= std::uint32_t(tail[1]) << 8; [[fallthrough]];
    case 1:
      k ^= tail[0];
      k *= c1;
      k = rotl(k, 15);
      k *= c2;
      h ^= k;
  }
  h ^= static_cast<std::uint32_t>(size);
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return static_cast<std::int32_t>(h);
}

HashedRows hash_documents(const AnalyzerSpec& spec, const Document* docs, std::size_t n_docs,
                          std::int64_t n_features, bool alternate_sign, int n_threads) {
  if (n_features < 1 || n_features > 2147483647)
    throw std::invalid_argument("n_features must lie in [1, 2**31 - 1]");
  if (n_threads < 1) throw std::invalid_argument("n_threads must be >= 1");
  TermTable<> stop_words;
  const AnalyzerOptions options = analyzer_options(spec, stop_words);

  struct Chunk {
    std::vector<std::int32_t> indices;
    std::vector<double> values;
    bool surrogate_term = false;
  };
  HashedRows out;
  out.row_sizes.resize(n_docs);
  const int used = range_threads(n_docs, kByteNs * total_bytes(docs, n_docs), n_threads);
  std::vector<Chunk> chunks(used);
  for_ranges(used, n_docs, [&](int t, std::size_t first, std::size_t last) {
    Analyzer analyzer(options);
    Chunk& chunk = chunks[t];
    std::vector<std::pair<std::int32_t, double>> row;
    for (std::size_t i = first; i < last; ++i) {
      row.clear();
      analyzer.analyze(docs[i], [&](const char* data, std::size_t size) {
        chunk.surrogate_term = chunk.surrogate_term || has_surrogate(data, size);
        const std::int32_t h = murmurhash3_32(data, size, 0);
        // abs(-2**31) overflows; scikit-learn defines that index as below.
        const std::int64_t index =
            h == INT32_MIN ? (2147483647 - (n_features - 1)) % n_features
                           : (h < 0 ? -static_cast<std::int64_t>(h) : h) % n_features;
        row.push_back({static_cast<std::int32_t>(index), alternate_sign && h < 0 ? -1.0 : 1.0});
      });
      // Sums of +-1 are exact in any order, so an unstable sort gives scipy's sum_duplicates
      // values; sums of zero stay stored, as there.
      std::sort(row.begin(), row.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      std::int64_t stored = 0;
      for (std::size_t j = 0; j < row.size();) {
        double sum = row[j].second;
        std::size_t k = j + 1;
        for (; k < row.size() && row[k].first == row[j].first; ++k) sum += row[k].second;
        chunk.indices.push_back(row[j].first);
        chunk.values.push_back(sum);
        ++stored;
        j = k;
      }
      out.row_sizes[i] = stored;
    }
  });
  for (int t = 0; t < used; ++t) {
    out.indices.insert(out.indices.end(), chunks[t].indices.begin(), chunks[t].indices.end());
    out.values.insert(out.values.end(), chunks[t].values.begin(), chunks[t].values.end());
    out.surrogate_term = out.surrogate_term || chunks[t].surrogate_term;
  }
  return out;
}

}  // namespace fastml::text
