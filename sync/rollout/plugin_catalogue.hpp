// The signed catalogue of what HQ publishes (The Update Framework's timestamp role, in one
// document): every bundle HQ has published, with its hash and whether it was withdrawn, under a
// version number that grows with every change and an expiry date.
//
// A laptop keeps the newest catalogue it accepted and refuses one with a lower version (a replayed
// old catalogue: rollback), one past its expiry (an attacker holding back news of a withdrawal:
// freeze), and one with the same version but other bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldsync::rollout {

struct CatalogueEntry {
  std::string name;
  int version = 0;
  std::string sha256;  // of the library, as its manifest says
  bool withdrawn = false;
};

struct Catalogue {
  std::uint64_t version = 0;  // grows by one with every publish, withdrawal and re-issue
  std::int64_t issued = 0;    // Unix seconds
  std::int64_t expires = 0;   // Unix seconds
  std::vector<CatalogueEntry> plugins;  // by name, then version

  const CatalogueEntry* find(const std::string& name, int version) const;
  // For each name, its highest version that is not withdrawn (none when every one was).
  std::vector<CatalogueEntry> current() const;
};

// The canonical text (sorted keys, no spaces): the bytes HQ signs.
std::string catalogue_text(const Catalogue& catalogue);

// The catalogue in `text`; Error(plugin) "<what>: …" naming what is wrong.
Catalogue parse_catalogue(std::string_view text, const std::string& what);

// Error(plugin) unless a laptop that last accepted `seen` (its version and text; nullopt before
// the first) may accept `offered` (text `offered_text`) at `now` (Unix seconds): not older than
// seen (rollback), not a different catalogue under the same version, not expired (freeze).
void check_fresh(const Catalogue& offered, std::string_view offered_text, const std::optional<Catalogue>& seen,
                 std::string_view seen_text, std::int64_t now, const std::string& what);

}  // namespace fieldsync::rollout
