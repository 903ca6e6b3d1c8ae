// A change read for sending, as the sync encodes it (protocol::change_text): a record still as
// created goes out as its stored text, spliced rather than parsed and printed again; the bytes
// must be exactly those of the full encoding, or a laptop and HQ would hold different records.
// Real replicas on SQLite files, both sides of the sync: a laptop's outbox and HQ's feed.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "sync/protocol.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

nlohmann::json activity(const std::string& title) {
  return {{"title", title},        {"priority_area", 8},         {"goal", "2.8.3"},
          {"kind", "workshop"},    {"status", "planned"},        {"start_date", "2018-03-08"},
          {"place", "نيامي"},      {"institutions", {"SESRIC", "IOFS"}}, {"participants", 40}};
}

class OutgoingChangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_.load_directory(FIELDSYNC_TEST_PLUGIN_DIR);
    Replica::create(dir_.path() / "laptop", "NER");
    Replica::create(dir_.path() / "hq", "HQ");
    laptop_ = std::make_unique<Replica>(dir_.path() / "laptop", host_);
    hq_ = std::make_unique<Replica>(dir_.path() / "hq", host_);
    laptop_->set_author("Aïssata");
  }

  // Each outbox change as the sink hands it, by record id: (encoded text, spliced or not).
  std::map<std::string, std::pair<std::string, bool>> outbox_as_sent() {
    std::map<std::string, std::pair<std::string, bool>> out;
    laptop_->outbox_page(100, 0, nullptr, [&out](OutgoingChange&& change) {
      out[change.change.id] = {protocol::change_text(change), !change.created_values.empty()};
    });
    return out;
  }

  TempDir dir_;
  PluginHost host_;
  std::unique_ptr<Replica> laptop_, hq_;
};

TEST_F(OutgoingChangeTest, ARecordAsCreatedIsSentAsItsStoredTextWithTheFullEncodingsBytes) {
  const Record fresh = laptop_->add("activity", activity("ورشة عمل حول الأمن الغذائي"));
  const Record edited = laptop_->add("activity", activity("Atelier régional à Niamey"));
  laptop_->edit(edited.id, {{"participants", 45}});
  const Record removed = laptop_->add("activity", activity("Visite de terrain"));
  laptop_->remove(removed.id);

  const auto sent = outbox_as_sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_TRUE(sent.at(fresh.id).second) << "a record never changed since creation is spliced";
  EXPECT_FALSE(sent.at(edited.id).second) << "an edited record carries its field states";
  EXPECT_FALSE(sent.at(removed.id).second) << "a deleted record carries its tombstone";
  for (const auto& change : laptop_->outbox_page(100).changes) {
    EXPECT_EQ(sent.at(change.id).first, protocol::change_to_json(change).dump()) << "record " << change.id;
  }
  // The spliced text decodes to the same change as the full one.
  const auto& text = sent.at(fresh.id).first;
  const RecordChange decoded = protocol::change_from_json(nlohmann::json::parse(text));
  EXPECT_EQ(protocol::change_to_json(decoded).dump(), text);
  EXPECT_EQ(decoded.fields.at("title").heads.front().value, "ورشة عمل حول الأمن الغذائي");
}

// The envelope of a spliced record is written by hand: names that need escapes (a quote, a
// backslash, a tab) must come out as dump() writes them.
TEST_F(OutgoingChangeTest, AnAuthorNeedingEscapesIsWrittenAsTheFullEncodingWritesIt) {
  for (const std::string author : {"Aïcha \"la\" Moussa", "C:\\Users\\ali", "Fatima\tBa", "عائشة"}) {
    laptop_->set_author(author);
    const Record fresh = laptop_->add("activity", activity("Atelier " + author));
    const auto sent = outbox_as_sent();
    ASSERT_TRUE(sent.at(fresh.id).second);
    const auto page = laptop_->outbox_page(100).changes;
    const auto change = std::find_if(page.begin(), page.end(), [&](const RecordChange& c) { return c.id == fresh.id; });
    ASSERT_NE(change, page.end());
    EXPECT_EQ(sent.at(fresh.id).first, protocol::change_to_json(*change).dump()) << author;
  }
}

TEST_F(OutgoingChangeTest, HqsFeedSendsTheSameBytesWithAndWithoutTheSink) {
  laptop_->add("activity", activity("اجتماع اللجنة التنفيذية"));
  const Record edited = laptop_->add("activity", activity("Formation des formateurs"));
  laptop_->edit(edited.id, {{"status", "implemented"}});
  hq_->apply_changes(laptop_->outbox_page(100).changes, /*check=*/true);
  hq_->add("activity", activity("Décision du siège"));

  const FeedPage whole = hq_->feed_page("NER", 0, 100);
  std::vector<std::string> texts;
  std::size_t spliced = 0;
  const FeedPage streamed = hq_->feed_page("NER", 0, 100, "", 0, [&](OutgoingChange&& change) {
    texts.push_back(protocol::change_text(change));
    if (!change.created_values.empty()) ++spliced;
  });
  ASSERT_EQ(texts.size(), whole.changes.size());
  ASSERT_EQ(whole.changes.size(), 3u);
  EXPECT_TRUE(streamed.changes.empty()) << "with a sink the page holds no changes";
  EXPECT_EQ(streamed.next_cursor, whole.next_cursor);
  EXPECT_EQ(spliced, 2u) << "the two records still as created";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(texts[i], protocol::change_to_json(whole.changes[i]).dump());
  }
}

}  // namespace
}  // namespace fieldsync
