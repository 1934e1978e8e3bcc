// The text vectorizers' core: documents (UTF-8 bytes, already lowercased and stripped of accents
// as the vectorizer asks) analysed into terms, counted per document against a vocabulary that is
// learned or given, or hashed into a fixed number of columns. Documents arrive in batches, so a
// corpus never has to be in memory at once; a batch is analysed in parallel over documents.
//
// Nothing depends on the thread count: a learned vocabulary is sorted by its terms' bytes (the
// order of Python's str comparison) before any column is numbered, and every row lists its
// columns in increasing order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fastml::text {

// One document's bytes. Text is valid UTF-8, except that lone surrogates (which Python strings may
// hold) arrive encoded as three bytes, as Python's "surrogatepass" writes them.
struct Document {
  const char* data;
  std::size_t size;
};

// Which terms a document gives (scikit-learn's analyzer "word", "char" or "char_wb").
struct AnalyzerSpec {
  int kind = 0;  // 0: word, 1: char, 2: char_wb
  int min_n = 1, max_n = 1;
  int min_token_chars = 2;              // word: the token pattern \b\w{m,}\b
  std::vector<std::string> stop_words;  // word: tokens dropped before the n-grams
};

// The terms of one document, in the analyzer's order (for tests; the counters never copy them out).
std::vector<std::string> document_terms(const AnalyzerSpec& spec, const Document& doc);

class TermCounter {
 public:
  // A vocabulary learned from the documents.
  TermCounter(const AnalyzerSpec& spec, int n_threads);
  // A given vocabulary: terms[i] is column columns[i]; other terms are not counted.
  TermCounter(const AnalyzerSpec& spec, const std::vector<std::string>& terms,
              const std::vector<std::int64_t>& columns, int n_threads);
  ~TermCounter();

  void add(const Document* docs, std::size_t n_docs);

  std::size_t n_documents() const;
  // Distinct terms given (fixed), or met (learned: no more documents can be added after it).
  std::size_t n_terms();

  // Learned vocabulary: keeps the terms found in at least `low` and at most `high` documents,
  // sorted by their bytes, and returns their document frequencies and total counts in that order.
  void keep(double low, double high, std::vector<std::int64_t>& df, std::vector<std::int64_t>& tf);
  // Learned vocabulary, after keep: keeps only the kept terms at these increasing positions.
  void select(const std::vector<std::int64_t>& positions);
  // The vocabulary's terms in column order (after keep/select).
  std::vector<std::string_view> terms() const;

  // The documents' count matrix: stored entries per row (call first), then the CSR arrays.
  // Learned vocabularies number the kept terms 0, 1, ...; rows list columns in increasing order.
  std::vector<std::int64_t> row_sizes() const;
  template <class Index>
  void fill(const std::int64_t* indptr, Index* indices, std::int64_t* counts, bool binary) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// HashingVectorizer's columns and signs: scikit-learn's FeatureHasher on each term's UTF-8
// bytes (MurmurHash3 x86 32-bit, seed 0), duplicates summed per row, columns increasing.
struct HashedRows {
  std::vector<std::int64_t> row_sizes;
  std::vector<std::int32_t> indices;
  std::vector<double> values;
  bool surrogate_term = false;  // a term holds a lone surrogate (strict UTF-8 cannot encode it)
};
HashedRows hash_documents(const AnalyzerSpec& spec, const Document* docs, std::size_t n_docs,
                          std::int64_t n_features, bool alternate_sign, int n_threads);

// MurmurHash3 x86 32-bit of the bytes, as a signed integer (sklearn.utils.murmurhash3_32).
std::int32_t murmurhash3_32(const char* data, std::size_t size, std::uint32_t seed);

}  // namespace fastml::text
