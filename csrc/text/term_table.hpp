// TermTable: a set of byte strings, each with a dense id (0, 1, ... in insertion order) and a
// payload, stored back to back in one buffer and found by open addressing. A vectorizer's vocabulary holds
// millions of short terms (word n-grams); one allocation per term, as in a map of std::string,
// cost more than the tokenizing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <climits>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace fastml::text {

// 64-bit hash of a byte string: eight bytes at a time, then a final mix (murmur's fmix64), so
// that terms differing in one byte land far apart.
inline std::uint64_t hash_bytes(const char* data, std::size_t size) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (size * 0xC2B2AE3D27D4EB4Full);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, data + i, 8);
    h = (h ^ word) * 0x100000001B3ull;
    h ^= h >> 29;
  }
  if (i < size) {
    std::uint64_t word = 0;
    std::memcpy(&word, data + i, size - i);
    h = (h ^ word) * 0x100000001B3ull;
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

struct NoPayload {};

// Payload: what the user keeps per term beside its bytes (counters), in the same cache line.
template <class Payload = NoPayload>
class TermTable {
 public:
  using id_t = std::uint32_t;
  static constexpr id_t npos = ~id_t(0);

  TermTable() : slots_(kInitialSlots) {}

  std::size_t size() const { return offsets_.size(); }

  std::string_view term(id_t id) const { return bytes(offsets_[id]); }
  std::uint64_t hash(id_t id) const { return hashes_[id]; }
  Payload& payload(id_t id) { return *payload_at(offsets_[id]); }
  const Payload& payload(id_t id) const { return *payload_at(offsets_[id]); }

  id_t find(const char* data, std::size_t size) const {
    return find(data, size, hash_bytes(data, size));
  }
  id_t find(const char* data, std::size_t size, std::uint64_t h) const {
    return slots_[probe(data, size, h)].id;
  }

  struct Inserted {
    id_t id;
    Payload* payload;  // valid until the next insert
  };

  // The term's id and payload, added (with a value-initialised payload) if new.
  Inserted insert(const char* data, std::size_t size) { return insert(data, size, hash_bytes(data, size)); }
  Inserted insert(const char* data, std::size_t size, std::uint64_t h) {
    const std::size_t s = probe(data, size, h);
    if (slots_[s].id != npos) return {slots_[s].id, payload_at(slots_[s].offset)};
    const id_t id = static_cast<id_t>(offsets_.size());
    if (id == npos || size > UINT32_MAX)
      throw std::length_error("more than 2**32 - 1 terms, or a term of 4 GiB");
    const std::uint64_t offset = arena_.size() * sizeof(std::uint64_t);
    arena_.resize(arena_.size() + (kHeader + size + 7) / 8);
    char* record = reinterpret_cast<char*>(arena_.data()) + offset;
    Payload* payload = new (record) Payload();
    const std::uint32_t size32 = static_cast<std::uint32_t>(size);
    std::memcpy(record + sizeof(Payload), &size32, sizeof size32);
    std::memcpy(record + kHeader, data, size);
    slots_[s] = {offset, tag(h), id};
    offsets_.push_back(offset);
    hashes_.push_back(h);
    if (2 * offsets_.size() > slots_.size()) grow();
    return {id, payload};
  }

  // Hints for a run of lookups: first the slot where a hash starts, later (once that slot is
  // likely in cache) the record its slot points to. A document's terms are looked up with both a
  // few terms ahead, so that their cache misses overlap instead of following one another.
  void prefetch_slot(std::uint64_t h) const { __builtin_prefetch(&slots_[h & (slots_.size() - 1)]); }
  void prefetch_record(std::uint64_t h) const {
    const Slot& slot = slots_[h & (slots_.size() - 1)];
    if (slot.id != npos) __builtin_prefetch(reinterpret_cast<const char*>(arena_.data()) + slot.offset);
  }

 private:
  static constexpr std::size_t kInitialSlots = 1024;
  // A record: the payload, the term's size (4 bytes), its bytes, padding to 8 bytes.
  static constexpr std::size_t kHeader = sizeof(Payload) + sizeof(std::uint32_t);
  static_assert(alignof(Payload) <= alignof(std::uint64_t), "records are 8-byte aligned");

  // A slot holds what a lookup needs before it touches other memory: the term's record and 32
  // bits of its hash. A hit then reads one more cache line (the record), where arrays indexed by
  // id would cost a line each.
  struct Slot {
    std::uint64_t offset = 0;
    std::uint32_t tag = 0;
    id_t id = npos;
  };

  static std::uint32_t tag(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 32); }

  const char* record(std::uint64_t offset) const {
    return reinterpret_cast<const char*>(arena_.data()) + offset;
  }
  Payload* payload_at(std::uint64_t offset) const {
    return reinterpret_cast<Payload*>(const_cast<char*>(record(offset)));
  }
  std::string_view bytes(std::uint64_t offset) const {
    std::uint32_t size;
    std::memcpy(&size, record(offset) + sizeof(Payload), sizeof size);
    return {record(offset) + kHeader, size};
  }

  // The slot of the term, or the empty slot where it would go.
  std::size_t probe(const char* data, std::size_t size, std::uint64_t h) const {
    const std::size_t mask = slots_.size() - 1;
    const std::uint32_t t = tag(h);
    for (std::size_t s = h & mask;; s = (s + 1) & mask) {
      const Slot& slot = slots_[s];
      if (slot.id == npos) return s;
      if (slot.tag == t) {
        const std::string_view term = bytes(slot.offset);
        if (term.size() == size && std::memcmp(term.data(), data, size) == 0) return s;
      }
    }
  }

  void grow() {
    std::vector<Slot> slots(slots_.size() * 2);
    const std::size_t mask = slots.size() - 1;
    for (id_t id = 0; id < offsets_.size(); ++id) {
      std::size_t s = hashes_[id] & mask;
      while (slots[s].id != npos) s = (s + 1) & mask;
      slots[s] = {offsets_[id], tag(hashes_[id]), id};
    }
    slots_.swap(slots);
  }

  std::vector<std::uint64_t> arena_;    // the records, 8-byte aligned
  std::vector<std::uint64_t> offsets_;  // per id: its record's byte offset in arena_
  std::vector<std::uint64_t> hashes_;   // per id
  std::vector<Slot> slots_;             // a power of two, at most half full
};

}  // namespace fastml::text
