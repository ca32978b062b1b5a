// lookup: C++17 example of the cm-smartcard C API with RAII and exceptions.
//
//   lookup SERVER_URL CARD_ID [REQUEST_ID]
//
// Finds the CM smartcard for a card id and, given a request id, tells whether the card is bound to it
// (cm_reconcile_assignment). Uses Negotiate as the current user unless CM_AUTH=none.
// Build: c++ -std=c++17 lookup.cpp $(pkg-config --cflags --libs cm_smartcard) -o lookup
#include <cm_smartcard.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

namespace cm {

// The last error of this thread, read right after a failing call.
class error : public std::runtime_error {
public:
    error(const char *function, cm_status status)
        : std::runtime_error(std::string(function) + ": " + cm_status_str(status) + ": " + read(cm_last_error_message)),
          status_(status), http_status_(cm_last_error_http_status()), correlation_id_(read(cm_last_error_correlation_id)) {}
    cm_status status() const noexcept { return status_; }
    std::int32_t http_status() const noexcept { return http_status_; }
    const std::string &correlation_id() const noexcept { return correlation_id_; }

private:
    static std::string read(cm_status (*get)(char *, size_t, size_t *)) {
        std::size_t len = 0;
        (void)get(nullptr, 0, &len);  // size query
        std::string s(len + 1, '\0');
        if (get(s.data(), s.size(), &len) != CM_STATUS_OK) return {};
        s.resize(len);
        return s;
    }
    cm_status status_;
    std::int32_t http_status_;
    std::string correlation_id_;
};

inline void check(const char *function, cm_status status) {
    if (status != CM_STATUS_OK) throw error(function, status);
}

// Reads a size-query string output of an object.
template <typename T>
std::string get_string(const char *function, cm_status (*get)(const T *, char *, size_t, size_t *), const T *obj) {
    std::size_t len = 0;
    cm_status rc = get(obj, nullptr, 0, &len);
    if (rc != CM_STATUS_BUFFER_TOO_SMALL) check(function, rc);
    std::string s(len + 1, '\0');
    check(function, get(obj, s.data(), s.size(), &len));
    s.resize(len);
    return s;
}

struct smartcard_deleter {
    void operator()(cm_smartcard *p) const noexcept { cm_smartcard_free(p); }
};
using smartcard_ptr = std::unique_ptr<cm_smartcard, smartcard_deleter>;

}  // namespace cm

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        std::cerr << "usage: " << argv[0] << " SERVER_URL CARD_ID [REQUEST_ID]\n";
        return 2;
    }
    cm_connection conn{};
    conn.struct_size = sizeof conn;
    conn.server_url = argv[1];
    const char *auth = std::getenv("CM_AUTH");
    if (auth != nullptr && std::strcmp(auth, "none") == 0) conn.auth_method = CM_AUTH_NONE;

    try {
        cm_smartcard *raw = nullptr;
        cm::check("cm_find_smartcard", cm_find_smartcard(&conn, argv[2], &raw));
        cm::smartcard_ptr card(raw);
        if (!card) {
            std::cout << "CM has no smartcard for card id " << argv[2] << "\n";
        } else {
            std::cout << "smartcard uuid: " << cm::get_string("cm_smartcard_uuid", cm_smartcard_uuid, card.get()) << "\n"
                      << "serial number:  " << cm::get_string("cm_smartcard_serial_number", cm_smartcard_serial_number, card.get()) << "\n"
                      << "ATR:            " << cm::get_string("cm_smartcard_atr", cm_smartcard_atr, card.get()) << "\n"
                      << "status:         " << cm_smartcard_status(card.get()) << "\n";
        }
        if (argc == 4) {
            cm_assignment a{};
            a.struct_size = sizeof a;
            a.request_id = argv[3];
            a.card_id = argv[2];
            std::int32_t state = -1;
            char uuid[CM_UUID_BUFFER_SIZE] = "";
            std::size_t len = 0;
            cm::check("cm_reconcile_assignment", cm_reconcile_assignment(&conn, &a, &state, uuid, sizeof uuid, &len));
            const char *names[] = {"not bound", "bound to this card", "bound to another card"};
            std::cout << "request " << argv[3] << ": " << (state >= 0 && state <= 2 ? names[state] : "?")
                      << (uuid[0] ? std::string(" (smartcard ") + uuid + ")" : std::string()) << "\n";
        }
    } catch (const cm::error &e) {
        std::cerr << e.what() << "\n";
        if (e.http_status() != 0) std::cerr << "  HTTP status: " << e.http_status() << "\n";
        if (!e.correlation_id().empty()) std::cerr << "  correlation id: " << e.correlation_id() << "\n";
        return 1;
    }
    return 0;
}
