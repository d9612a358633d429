#include <utility>

#include "platform/store.hpp"

namespace avn::platform {

namespace {

class memory_store final : public secret_store {
  public:
    std::string_view backend() const noexcept override { return "memory"; }

    store_result<void> put(const store_key& key, const secret& payload) override {
        for (auto& [k, v] : items_) {
            if (k.same_item(key)) {
                k = key;
                v = payload.clone();
                return {};
            }
        }
        items_.emplace_back(key, payload.clone());
        return {};
    }

    store_result<std::optional<secret>> get(const store_key& key) override {
        for (const auto& [k, v] : items_) {
            if (k.same_item(key)) {
                return std::optional<secret>(v.clone());
            }
        }
        return std::optional<secret>();
    }

    store_result<void> erase(const store_key& key) override {
        std::erase_if(items_, [&](const auto& item) { return item.first.same_item(key); });
        return {};
    }

    store_result<std::vector<store_key>> list() override {
        std::vector<store_key> keys;
        for (const auto& item : items_) {
            keys.push_back(item.first);
        }
        return keys;
    }

  private:
    std::vector<std::pair<store_key, secret>> items_;
};

}  // namespace

std::unique_ptr<secret_store> make_memory_store() {
    return std::make_unique<memory_store>();
}

}  // namespace avn::platform
