/* The enrollment and card lifecycle from C: every cm_session_* call of the flow, every cm_object / cm_list
 * accessor, their bad inputs (NULL pointers, bad GUIDs, bad base64, empty arrays, unknown enum names, struct
 * sizes, small buffers, indexes), CM's documented statuses (204, 403, 500), and at most once for every
 * state-changing call against a server whose connections break after it read the request.
 * Usage: test_c_enroll URL BREAKING_URL CSR_DER_FILE TEMPLATE_UUID APPROVAL_TEMPLATE_UUID SERVER_KEYS_TEMPLATE_UUID
 *                       DISABLED_URL CORRELATION_ID
 *   URL           the emulator
 *   DISABLED_URL  an emulator whose API is switched off (Clm.WebApi.Enabled=false: 404 everywhere)
 *   CORRELATION_ID  the correlation id of the 500 BREAKING_URL answers to GET /certificates
 *   BREAKING_URL  an emulator that applies every POST to /requests... and every PUT, then closes the connection
 *                 without answering
 * Prints "AUTH <key hex> <challenge hex> <response hex> <diversified>" lines for the runner to recompute, one
 * line per failed check, and "N passed, M failed". */
#include "cm_smartcard.h"
#define CHECK_ON_FAIL() check_print_last_error()
#include "check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cm_session *open_session(const char *url) {
  cm_connection c;
  memset(&c, 0, sizeof c);
  c.struct_size = (uint32_t)sizeof c;
  c.server_url = url;
  c.auth_method = CM_AUTH_NONE;
  c.timeout_ms = 5000;
  cm_session *s = NULL;
  cm_status rc = cm_session_new(&c, &s);
  CHECK(rc == CM_STATUS_OK && s != NULL, "cm_session_new(%s): %d", url, (int)rc);
  return s;
}

static cm_request_spec spec_of(const char *type, const char *template_uuid, const char *comment) {
  cm_request_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.struct_size = (uint32_t)sizeof spec;
  spec.request_type = type;
  spec.profile_template_uuid = template_uuid;
  spec.comment = comment;
  spec.priority = -1;
  return spec;
}

/* A string field through the size-query pattern: asks the size first, then reads. "" on failure. */
static const char *field(const cm_object *o, const char *name) {
  static char buf[4096];
  size_t len = 0;
  buf[0] = '\0';
  if (cm_object_get_string(o, name, NULL, 0, &len) != CM_STATUS_BUFFER_TOO_SMALL || len >= sizeof buf) return "";
  if (cm_object_get_string(o, name, buf, len + 1, &len) != CM_STATUS_OK) buf[0] = '\0';
  return buf;
}

static int64_t int_field(const cm_object *o, const char *name) {
  int64_t v = -12345;
  if (cm_object_get_int(o, name, &v) != CM_STATUS_OK) return -12345;
  return v;
}

/* Copies a GUID field into out (37 bytes). */
static int guid_field(const cm_object *o, const char *name, char out[37]) {
  size_t len = 0;
  return cm_object_get_guid(o, name, out, 37, &len) == CM_STATUS_OK && len == 36;
}

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
  out[2 * n] = '\0';
}

/* Finds a template's uuid by name in the template list. */
static int template_by_name(cm_session *s, const char *name, char out[37]) {
  cm_list *list = NULL;
  size_t n = 0;
  int found = 0;
  if (cm_session_list_profile_templates(s, &list) != CM_STATUS_OK) return 0;
  if (cm_list_count(list, &n) != CM_STATUS_OK) n = 0;
  for (size_t i = 0; i < n && !found; i++) {
    cm_object *t = NULL;
    if (cm_list_get(list, i, &t) == CM_STATUS_OK) {
      found = strcmp(field(t, "Name"), name) == 0 && guid_field(t, "Uuid", out);
      cm_object_free(t);
    }
  }
  cm_list_free(list);
  return found;
}

/* Creates an Enroll request; its uuid into out. */
static int create(cm_session *s, const char *template_uuid, const char *comment, char out[37]) {
  cm_request_spec spec = spec_of("Enroll", template_uuid, comment);
  cm_object *created = NULL;
  cm_status rc = cm_session_create_request(s, &spec, &created);
  int ok = rc == CM_STATUS_OK && created && cm_object_kind(created) == CM_OBJECT_CREATED &&
           guid_field(created, "Uuid", out);
  cm_object_free(created);
  return ok;
}

/* Binds a fresh card id to the request; the smart card uuid into sc_out. */
static int bind_card(cm_session *s, const char *request, const char *card_id, char sc_out[37]) {
  cm_assignment a;
  memset(&a, 0, sizeof a);
  a.struct_size = (uint32_t)sizeof a;
  a.request_id = request;
  a.card_id = card_id;
  a.atr = "3b8d0180fba000000397425446590301c8";
  cm_assign_result *r = NULL;
  size_t len = 0;
  int ok = cm_session_assign_smartcard(s, &a, &r) == CM_STATUS_OK &&
           cm_assign_result_smartcard_uuid(r, sc_out, 37, &len) == CM_STATUS_OK;
  cm_assign_result_free(r);
  return ok;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *buf = malloc(65536);
  *len = fread(buf, 1, 65536, f);
  fclose(f);
  return buf;
}

static void accessors(cm_session *s, const char *template_uuid) {
  char req[37], other[37];
  CHECK(create(s, template_uuid, "accessors", req), "create for accessors");
  cm_request *r = NULL;
  cm_object *o = NULL;
  CHECK(cm_session_get_request(s, req, &r) == CM_STATUS_OK && r, "get_request");
  CHECK(cm_request_to_object(r, &o) == CM_STATUS_OK && o && cm_object_kind(o) == CM_OBJECT_REQUEST, "to_object");
  CHECK(cm_request_to_object(NULL, &o) == CM_STATUS_NULL_ARGUMENT && o == NULL, "to_object NULL resets out");
  CHECK(cm_request_to_object(r, &o) == CM_STATUS_OK, "to_object again");
  cm_request_free(r);

  /* Strings, GUIDs (case-insensitive names), ints, bools, enum names, JSON. */
  CHECK(guid_field(o, "uuid", other) && strcmp(other, req) == 0, "Uuid read as GUID: %s", other);
  CHECK(int_field(o, "Status") == 3, "Status 3 (auto-approved)");
  char name[64];
  size_t len = 0;
  CHECK(cm_object_get_enum_name(o, "status", name, sizeof name, &len) == CM_STATUS_OK && strcmp(name, "Approved") == 0,
        "enum name Approved: %s", name);
  CHECK(cm_object_get_enum_name(o, "RequestType", name, sizeof name, &len) == CM_STATUS_OK && strcmp(name, "Enroll") == 0,
        "enum name Enroll");
  int32_t b = -1;
  CHECK(cm_object_get_bool(o, "IsSmartcard", &b) == CM_STATUS_OK && b == 1, "IsSmartcard true");
  CHECK(strcmp(field(o, "Comment"), "accessors") == 0, "Comment");
  CHECK(strcmp(field(o, "Status"), "3") == 0, "a number read as text");
  CHECK(cm_object_get_string(o, "Comment", name, 3, &len) == CM_STATUS_BUFFER_TOO_SMALL && len == 9,
        "small buffer: needed length reported (%zu)", len);
  CHECK(cm_object_json(o, NULL, 0, &len) == CM_STATUS_BUFFER_TOO_SMALL && len > 100, "json size query");
  char *json = malloc(len + 1);
  CHECK(cm_object_json(o, json, len + 1, &len) == CM_STATUS_OK && json[0] == '{' && strstr(json, req), "json");
  free(json);

  /* Arrays: count, items by index, nested objects. */
  size_t count = 99;
  CHECK(cm_object_get_count(o, "DataCollection", &count) == CM_STATUS_OK, "DataCollection count %zu", count);
  CHECK(cm_object_get_count(o, "Uuid", &count) == CM_STATUS_FIELD_TYPE, "count of a string: FIELD_TYPE");
  CHECK(cm_object_get_string_at(o, "DataCollection", 1000, name, sizeof name, &len) == CM_STATUS_INDEX_OUT_OF_RANGE,
        "string_at past the end");
  cm_object *item = (cm_object *)1;
  CHECK(cm_object_get_object_at(o, "DataCollection", 1000, &item) == CM_STATUS_INDEX_OUT_OF_RANGE && item == NULL,
        "object_at past the end, out reset");

  /* Missing, null, wrong type, bad base64, no documented name. */
  int64_t v = 0;
  CHECK(cm_object_get_int(o, "NoSuchField", &v) == CM_STATUS_FIELD_MISSING, "missing field");
  CHECK(cm_object_get_int(o, "Uuid", &v) == CM_STATUS_FIELD_TYPE, "GUID as int: FIELD_TYPE");
  CHECK(cm_object_get_bool(o, "Uuid", &b) == CM_STATUS_FIELD_TYPE, "GUID as bool: FIELD_TYPE");
  CHECK(cm_object_get_guid(o, "Comment", name, sizeof name, &len) == CM_STATUS_FIELD_TYPE, "text as GUID");
  uint8_t bytes[64];
  CHECK(cm_object_get_bytes(o, "SecurityDescriptor", bytes, sizeof bytes, &len) == CM_STATUS_FIELD_TYPE,
        "not base64: FIELD_TYPE");
  CHECK(cm_object_get_enum_name(o, "Flags", name, sizeof name, &len) == CM_STATUS_ENUM_UNKNOWN, "Flags: no name");

  /* NULL and invalid arguments. */
  CHECK(cm_object_get_int(NULL, "Status", &v) == CM_STATUS_NULL_ARGUMENT, "NULL object");
  CHECK(cm_object_get_int(o, NULL, &v) == CM_STATUS_NULL_ARGUMENT, "NULL field");
  CHECK(cm_object_get_int(o, "Status", NULL) == CM_STATUS_NULL_ARGUMENT, "NULL value_out");
  CHECK(cm_object_get_int(o, "\xff\xfe", &v) == CM_STATUS_INVALID_UTF8, "non-UTF-8 field name");
  CHECK(cm_object_get_count(o, "DataCollection", NULL) == CM_STATUS_NULL_ARGUMENT, "NULL count_out");
  CHECK(cm_object_get_string(o, "Comment", name, sizeof name, NULL) == CM_STATUS_NULL_ARGUMENT, "NULL len_out");
  CHECK(cm_object_get_object_at(o, "DataCollection", 0, NULL) == CM_STATUS_NULL_ARGUMENT, "NULL item_out");
  CHECK(cm_object_kind(NULL) == -1, "kind of NULL");
  CHECK(cm_object_json(NULL, name, sizeof name, &len) == CM_STATUS_NULL_ARGUMENT, "json of NULL");
  cm_object_free(NULL);
  cm_object_free(o);
}

static void lists_and_bad_input(cm_session *s, const char *template_uuid) {
  cm_list *list = (cm_list *)1;
  size_t n = 0, len = 0;
  char buf[256];
  CHECK(cm_session_list_profile_templates(NULL, &list) == CM_STATUS_NULL_ARGUMENT && list == NULL, "NULL session");
  CHECK(cm_session_list_profile_templates(s, NULL) == CM_STATUS_NULL_ARGUMENT, "NULL templates_out");
  CHECK(cm_session_list_profile_templates(s, &list) == CM_STATUS_OK && cm_list_count(list, &n) == CM_STATUS_OK && n >= 3,
        "templates: %zu", n);
  cm_object *t = NULL;
  CHECK(cm_list_get(list, 0, &t) == CM_STATUS_OK && cm_object_kind(t) == CM_OBJECT_PROFILE_TEMPLATE, "template kind");
  cm_object_free(t);
  t = (cm_object *)1;
  CHECK(cm_list_get(list, n, &t) == CM_STATUS_INDEX_OUT_OF_RANGE && t == NULL, "list index past the end");
  CHECK(cm_list_get_string(list, 0, buf, sizeof buf, &len) == CM_STATUS_FIELD_TYPE, "an object is not a string");
  CHECK(cm_list_json(list, NULL, 0, &len) == CM_STATUS_BUFFER_TOO_SMALL && len > 50, "list json size");
  CHECK(cm_list_count(NULL, &n) == CM_STATUS_NULL_ARGUMENT && cm_list_count(list, NULL) == CM_STATUS_NULL_ARGUMENT,
        "list_count NULLs");
  CHECK(cm_list_get(NULL, 0, &t) == CM_STATUS_NULL_ARGUMENT, "list_get NULL list");
  cm_list_free(list);
  cm_list_free(NULL);

  /* Policies and configuration: bad GUIDs and unknown type names are refused before sending. */
  cm_object *o = (cm_object *)1;
  CHECK(cm_session_get_profile_template_policy(s, "not-a-guid", "Enroll", &o) == CM_STATUS_INVALID_GUID && o == NULL,
        "policy: bad GUID");
  CHECK(cm_session_get_profile_template_policy(s, template_uuid, "Enrollment", &o) == CM_STATUS_INVALID_ARGUMENT,
        "policy: unknown type name");
  CHECK(cm_session_get_profile_template_policy(s, template_uuid, NULL, &o) == CM_STATUS_NULL_ARGUMENT, "policy: NULL type");
  CHECK(cm_session_get_profile_template_policy(s, template_uuid, "unblock", &o) == CM_STATUS_OK && o &&
            cm_object_kind(o) == CM_OBJECT_POLICY,
        "policy unblock");
  int32_t enabled = 0;
  CHECK(cm_object_get_bool(o, "Enabled", &enabled) == CM_STATUS_OK && enabled == 1, "policy Enabled");
  cm_object_free(o);
  CHECK(cm_session_get_smartcard_config(s, template_uuid, &o) == CM_STATUS_OK && o &&
            cm_object_kind(o) == CM_OBJECT_SMARTCARD_CONFIG,
        "smartcard config");
  CHECK(strlen(field(o, "DefaultAdminKeyHex")) == 48, "DefaultAdminKeyHex");
  cm_object_free(o);
  /* 204 for an unknown template: OK with no object. */
  o = (cm_object *)1;
  CHECK(cm_session_get_smartcard_config(s, "00000000-0000-4000-8000-000000000204", &o) == CM_STATUS_OK && o == NULL,
        "unknown template: OK, NULL object");

  /* Request specs: every kind of bad input, nothing sent. */
  cm_request_spec spec = spec_of("Enrol", template_uuid, "bad");
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_INVALID_ARGUMENT && o == NULL, "unknown request type");
  spec = spec_of("Enroll", NULL, "bad");
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_INVALID_ARGUMENT, "Enroll without template");
  spec = spec_of("Enroll", "{zzz}", "bad");
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_INVALID_GUID, "bad template GUID");
  spec = spec_of(NULL, template_uuid, "bad");
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_NULL_ARGUMENT, "NULL type");
  spec = spec_of("Enroll", template_uuid, "bad");
  spec.struct_size = 0;
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_INVALID_STRUCT_SIZE, "struct_size 0");
  spec = spec_of("Enroll", template_uuid, "bad");
  spec.data_collection_count = 2;
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_NULL_ARGUMENT, "data_collection NULL with a count");
  cm_data_item items[2] = {{"City", "Seattle"}, {NULL, "x"}};
  spec.data_collection = items;
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_NULL_ARGUMENT, "data item without a name");
  items[1].name = "";
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_INVALID_ARGUMENT, "data item with an empty name");
  spec = spec_of("Enroll", template_uuid, "\xc3\x28");
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_INVALID_UTF8, "non-UTF-8 comment");
  CHECK(cm_session_create_request(s, NULL, &o) == CM_STATUS_NULL_ARGUMENT, "NULL spec");
  spec = spec_of("Enroll", template_uuid, "bad");
  CHECK(cm_session_create_request(s, &spec, NULL) == CM_STATUS_NULL_ARGUMENT, "NULL created_out");
  /* Data collection and priority accepted; the request shows them. */
  spec = spec_of("Enroll", template_uuid, "with data");
  items[1].name = "Note";
  items[1].value = NULL;
  spec.data_collection = items;
  spec.data_collection_count = 2;
  spec.priority = 4;
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_OK && o, "create with data collection");
  char req[37];
  CHECK(guid_field(o, "Uuid", req), "created Uuid");
  CHECK(strncmp(field(o, "Uri"), "api/v1.0/requests/", 18) == 0, "created Uri: %s", field(o, "Uri"));
  cm_object_free(o);
  cm_request *r = NULL;
  CHECK(cm_session_get_request(s, req, &r) == CM_STATUS_OK && cm_request_to_object(r, &o) == CM_STATUS_OK, "read back");
  cm_request_free(r);
  size_t count = 0;
  /* CM lists the policy's own data items first (null until given), then the ones sent: find ours by name. */
  CHECK(cm_object_get_count(o, "DataCollection", &count) == CM_STATUS_OK && count >= 2, "data items: %zu", count);
  int city = 0, note = 0;
  for (size_t i = 0; i < count; i++) {
    cm_object *item = NULL;
    if (cm_object_get_object_at(o, "DataCollection", i, &item) != CM_STATUS_OK) continue;
    CHECK(cm_object_kind(item) == CM_OBJECT_DATA_ITEM, "data item kind");
    if (strcmp(field(item, "Name"), "City") == 0) city = strcmp(field(item, "Value"), "Seattle") == 0;
    if (strcmp(field(item, "Name"), "Note") == 0)
      note = cm_object_get_string(item, "Value", buf, sizeof buf, &len) == CM_STATUS_FIELD_MISSING;
    cm_object_free(item);
  }
  CHECK(city && note, "City=Seattle sent; Note sent as null reads as missing");
  CHECK(int_field(o, "Priority") == 4, "priority 4");
  cm_object_free(o);

  /* Lists of requests; unknown status names are refused. */
  CHECK(cm_session_list_requests(s, "Sleeping", 0, &list) == CM_STATUS_INVALID_ARGUMENT && list == NULL, "bad status filter");
  CHECK(cm_session_list_requests(s, "approved", 1, &list) == CM_STATUS_OK && cm_list_count(list, &n) == CM_STATUS_OK && n >= 2,
        "approved requests: %zu", n);
  cm_list_free(list);
  CHECK(cm_session_list_requests(s, NULL, 0, &list) == CM_STATUS_OK, "all requests");
  cm_list_free(list);

  /* PUTs: unknown state names, bad GUIDs. */
  CHECK(cm_session_set_request_status(s, req, "Done", &o) == CM_STATUS_INVALID_ARGUMENT, "unknown request state");
  CHECK(cm_session_set_request_status(s, req, "Approved", &o) == CM_STATUS_INVALID_ARGUMENT, "a state PUT cannot set");
  CHECK(cm_session_set_request_status(s, "x", "Completed", &o) == CM_STATUS_INVALID_GUID, "bad request GUID");
  CHECK(cm_session_set_smartcard_status(s, req, req, "Broken", &o) == CM_STATUS_INVALID_ARGUMENT, "unknown card state");
  CHECK(cm_session_set_request_status(NULL, req, "Completed", &o) == CM_STATUS_NULL_ARGUMENT, "NULL session PUT");
  /* Cancel it (any case), then it cannot be completed: 403 with advice. */
  CHECK(cm_session_set_request_status(s, req, "CANCELED", NULL) == CM_STATUS_OK, "cancel, no object wanted");
  CHECK(cm_session_set_request_status(s, req, "Completed", &o) == CM_STATUS_HTTP_FORBIDDEN && o == NULL, "closed: 403");
  CHECK(cm_last_error_http_status() == 403 && strstr(last_message(), "state") != NULL, "403 advice: %s", last_message());

  /* Profiles, certificates, operations of unknown ids: empty lists / NULL. */
  CHECK(cm_session_list_profiles(s, "Asleep", &list) == CM_STATUS_INVALID_ARGUMENT, "bad profile status");
  CHECK(cm_session_list_profiles(s, NULL, &list) == CM_STATUS_OK, "profiles");
  cm_list_free(list);
  const char *unknown = "00000000-0000-4000-8000-0000000000ff";
  CHECK(cm_session_get_profile(s, unknown, &o) == CM_STATUS_OK && o == NULL, "unknown profile: NULL");
  CHECK(cm_session_get_profile(s, "nope", &o) == CM_STATUS_INVALID_GUID, "profile bad GUID");
  CHECK(cm_session_get_smartcard_certificates(s, unknown, &list) == CM_STATUS_OK && cm_list_count(list, &n) == CM_STATUS_OK && n == 0,
        "204: an empty list");
  cm_list_free(list);
  CHECK(cm_session_get_profile_operations(s, unknown, &list) == CM_STATUS_OK, "profile operations (empty)");
  cm_list_free(list);
  CHECK(cm_session_get_smartcard_operations(s, "bad", &list) == CM_STATUS_INVALID_GUID && list == NULL, "operations bad GUID");
  CHECK(cm_session_get_smartcard_operations(s, unknown, NULL) == CM_STATUS_NULL_ARGUMENT, "operations NULL out");
  CHECK(cm_session_list_request_profiles(s, "bad", &list) == CM_STATUS_INVALID_GUID, "request profiles bad GUID");
  CHECK(cm_session_get_user_certificates(NULL, &list) == CM_STATUS_NULL_ARGUMENT, "user certificates NULL session");
}

static void flow(cm_session *s, const char *template_uuid, const uint8_t *csr, size_t csr_len) {
  char req[37], sc[37], buf[256];
  const char *card = "c0ffee00-e2e0-4000-8000-000000000001";
  size_t len = 0, n = 0;
  CHECK(create(s, template_uuid, "flow", req), "create");
  CHECK(bind_card(s, req, card, sc), "bind");

  /* Admin key: the size-query pattern for bytes, every bad input. */
  uint8_t key[24], small[4];
  CHECK(cm_session_get_admin_key(s, req, sc, card, NULL, NULL, 0, &len) == CM_STATUS_BUFFER_TOO_SMALL && len == 24,
        "admin key size query: %zu", len);
  CHECK(cm_session_get_admin_key(s, req, sc, card, NULL, small, sizeof small, &len) == CM_STATUS_BUFFER_TOO_SMALL,
        "admin key small buffer");
  CHECK(cm_session_get_admin_key(s, req, sc, card, "3b 8d 01 80 fb a0 00 00 03 97 42 54 46 59 03 01 c8", key, sizeof key,
                                 &len) == CM_STATUS_OK && len == 24,
        "admin key");
  CHECK(cm_session_get_admin_key(s, req, sc, "not-a-card", NULL, key, sizeof key, &len) == CM_STATUS_INVALID_GUID, "bad card id");
  CHECK(cm_session_get_admin_key(s, req, sc, card, "zz", key, sizeof key, &len) == CM_STATUS_INVALID_ATR, "bad ATR");
  CHECK(cm_session_get_admin_key(s, req, sc, card, NULL, key, sizeof key, NULL) == CM_STATUS_NULL_ARGUMENT, "NULL len_out");
  CHECK(cm_session_get_admin_key(s, req, sc, "c0ffee00-e2e0-4000-8000-0000000000ff", NULL, key, sizeof key, &len) ==
            CM_STATUS_HTTP_FORBIDDEN,
        "another card's id: 403");
  CHECK(cm_session_get_admin_key(s, req, sc, card, NULL, key, sizeof key, &len) == CM_STATUS_OK, "admin key again");

  /* Challenge/response with the default and the diversified key; the runner recomputes 3DES. */
  const uint8_t challenge[8] = {0xd6, 0x11, 0x43, 0xf9, 0xcc, 0xff, 0xd2, 0xca};
  uint8_t response[8];
  char key_hex[49], ch_hex[17], resp_hex[17];
  for (int32_t diversified = 0; diversified <= 1; diversified++) {
    CHECK(cm_session_get_authentication_response(s, req, sc, card, NULL, challenge, sizeof challenge, diversified, response,
                                                 sizeof response, &len) == CM_STATUS_OK && len == 8,
          "authentication response (diversified %d)", (int)diversified);
    hex(key, 24, key_hex);
    hex(challenge, 8, ch_hex);
    hex(response, 8, resp_hex);
    printf("AUTH %s %s %s %d\n", key_hex, ch_hex, resp_hex, (int)diversified);
  }
  CHECK(cm_session_get_authentication_response(s, req, sc, card, NULL, NULL, 8, 1, response, 8, &len) == CM_STATUS_NULL_ARGUMENT,
        "NULL challenge");
  CHECK(cm_session_get_authentication_response(s, req, sc, card, NULL, challenge, 0, 1, response, 8, &len) ==
            CM_STATUS_INVALID_ARGUMENT,
        "empty challenge");
  CHECK(cm_session_get_authentication_response(s, req, sc, card, NULL, challenge, 8, 1, response, 2, &len) ==
            CM_STATUS_BUFFER_TOO_SMALL && len == 8,
        "response small buffer");
  /* No proposed PIN on this template: 403. */
  CHECK(cm_session_get_server_proposed_pin(s, req, sc, card, NULL, buf, sizeof buf, &len) == CM_STATUS_HTTP_FORBIDDEN,
        "no proposed PIN: 403");
  CHECK(cm_session_get_server_proposed_pin(s, req, NULL, card, NULL, buf, sizeof buf, &len) == CM_STATUS_NULL_ARGUMENT,
        "PIN: NULL smartcard");

  /* CSR options and certificate data: bad CSRs are refused before sending; the real one is issued. */
  cm_list *opts = NULL;
  CHECK(cm_session_get_csr_options(s, req, &opts) == CM_STATUS_OK && cm_list_count(opts, &n) == CM_STATUS_OK && n >= 1,
        "CSR options: %zu", n);
  cm_object *opt = NULL;
  CHECK(cm_list_get(opts, 0, &opt) == CM_STATUS_OK && cm_object_kind(opt) == CM_OBJECT_CSR_OPTION, "CSR option kind");
  size_t ksp = 0;
  CHECK(int_field(opt, "KeySize") >= 1024 && cm_object_get_count(opt, "KeyStorageProviderNames", &ksp) == CM_STATUS_OK &&
            ksp >= 1 && cm_object_get_string_at(opt, "KeyStorageProviderNames", 0, buf, sizeof buf, &len) == CM_STATUS_OK,
        "CSR option fields (%s)", buf);
  cm_object_free(opt);
  cm_list_free(opts);
  cm_bytes csrs[8];
  for (size_t i = 0; i < n && i < 8; i++) {
    csrs[i].data = csr;
    csrs[i].len = csr_len;
  }
  cm_list *certs = (cm_list *)1;
  CHECK(cm_session_submit_certificate_requests(s, req, NULL, 1, NULL, NULL, &certs) == CM_STATUS_NULL_ARGUMENT && certs == NULL,
        "csrs NULL with a count");
  cm_bytes garbage = {(const uint8_t *)"hello", 5};
  CHECK(cm_session_submit_certificate_requests(s, req, &garbage, 1, NULL, NULL, &certs) == CM_STATUS_INVALID_ARGUMENT,
        "not a CSR");
  const char *pem = "-----BEGIN CERTIFICATE REQUEST-----\n@@not base64@@\n-----END CERTIFICATE REQUEST-----\n";
  cm_bytes bad_pem = {(const uint8_t *)pem, strlen(pem)};
  CHECK(cm_session_submit_certificate_requests(s, req, &bad_pem, 1, NULL, NULL, &certs) == CM_STATUS_INVALID_ARGUMENT,
        "bad base64 in PEM");
  cm_bytes null_data = {NULL, 10};
  CHECK(cm_session_submit_certificate_requests(s, req, &null_data, 1, NULL, NULL, &certs) == CM_STATUS_NULL_ARGUMENT,
        "CSR data NULL with a length");
  /* An empty array for a template that wants CSRs: CM refuses it (403). */
  CHECK(cm_session_submit_certificate_requests(s, req, NULL, 0, NULL, NULL, &certs) == CM_STATUS_HTTP_FORBIDDEN,
        "no CSRs for a CSR template: 403");
  CHECK(cm_session_submit_certificate_requests(s, req, csrs, n, NULL, "from C", &certs) == CM_STATUS_OK && certs,
        "certificate data");
  size_t nc = 0;
  CHECK(cm_list_count(certs, &nc) == CM_STATUS_OK && nc == n, "one certificate per CSR: %zu", nc);
  cm_object *cert = NULL;
  CHECK(cm_list_get(certs, 0, &cert) == CM_STATUS_OK && cm_object_kind(cert) == CM_OBJECT_CERTIFICATE_DATA, "cert kind");
  int32_t is_p7 = 0;
  CHECK(cm_object_get_bool(cert, "ispkcs7", &is_p7) == CM_STATUS_OK && is_p7 == 1, "isPkcs7");
  CHECK(cm_object_get_bytes(cert, "Pkcs7", NULL, 0, &len) == CM_STATUS_BUFFER_TOO_SMALL && len > 300, "Pkcs7 size %zu", len);
  uint8_t *p7 = malloc(len);
  CHECK(cm_object_get_bytes(cert, "Pkcs7", p7, len, &len) == CM_STATUS_OK && p7[0] == 0x30, "Pkcs7 DER");
  free(p7);
  CHECK(cm_object_get_bytes(cert, "Pfx", NULL, 0, &len) == CM_STATUS_FIELD_MISSING, "no Pfx: missing (null)");
  cm_object_free(cert);
  cm_list_free(certs);
  CHECK(cm_session_submit_certificate_requests(s, req, csrs, n, NULL, NULL, &certs) == CM_STATUS_HTTP_FORBIDDEN,
        "certificate data only once: 403");

  /* Complete; the card is active, shows its certificates and operations; its profile exists. */
  cm_object *o = NULL;
  CHECK(cm_session_set_request_status(s, req, "Completed", &o) == CM_STATUS_OK && o && int_field(o, "Status") == 8,
        "completed (8)");
  cm_object_free(o);
  CHECK(cm_session_get_smartcard_certificates(s, sc, &certs) == CM_STATUS_OK && cm_list_count(certs, &nc) == CM_STATUS_OK &&
            nc == n,
        "card certificates: %zu", nc);
  CHECK(cm_list_get(certs, 0, &cert) == CM_STATUS_OK && cm_object_kind(cert) == CM_OBJECT_CARD_CERTIFICATE &&
            strlen(field(cert, "Thumbprint")) == 40,
        "card certificate thumbprint");
  cm_object_free(cert);
  cm_list_free(certs);
  cm_list *ops = NULL;
  int unblock = 0;
  CHECK(cm_session_get_smartcard_operations(s, sc, &ops) == CM_STATUS_OK && cm_list_count(ops, &nc) == CM_STATUS_OK, "ops");
  for (size_t i = 0; i < nc; i++)
    if (cm_list_get_string(ops, i, buf, sizeof buf, &len) == CM_STATUS_OK && strcmp(buf, "unblock") == 0) unblock = 1;
  CHECK(unblock, "unblock allowed on an active card");
  cm_list_free(ops);
  cm_list *profiles = NULL;
  char profile[37] = "";
  CHECK(cm_session_list_request_profiles(s, req, &profiles) == CM_STATUS_OK && cm_list_count(profiles, &nc) == CM_STATUS_OK &&
            nc == 1,
        "request profiles: %zu", nc);
  CHECK(cm_list_get(profiles, 0, &o) == CM_STATUS_OK && cm_object_kind(o) == CM_OBJECT_PROFILE && guid_field(o, "Uuid", profile),
        "profile");
  cm_object_free(o);
  cm_list_free(profiles);
  CHECK(cm_session_get_profile(s, profile, &o) == CM_STATUS_OK && o, "get profile");
  cm_object_free(o);
  CHECK(cm_session_get_profile_certificates(s, profile, &certs) == CM_STATUS_OK, "profile certificates");
  cm_list_free(certs);
  CHECK(cm_session_get_profile_operations(s, profile, &ops) == CM_STATUS_OK, "profile operations");
  cm_list_free(ops);
  CHECK(cm_session_get_user_certificates(s, &certs) == CM_STATUS_OK && cm_list_count(certs, &nc) == CM_STATUS_OK && nc >= n,
        "user certificates: %zu", nc);
  CHECK(cm_list_get(certs, 0, &cert) == CM_STATUS_OK && cm_object_kind(cert) == CM_OBJECT_USER_CERTIFICATE, "user cert kind");
  cm_object_free(cert);
  cm_list_free(certs);
  cm_smartcard *card_obj = NULL;
  CHECK(cm_session_get_smartcard(s, sc, &card_obj) == CM_STATUS_OK && cm_smartcard_to_object(card_obj, &o) == CM_STATUS_OK &&
            cm_object_kind(o) == CM_OBJECT_SMARTCARD && guid_field(o, "SerialNumber", buf) && strcmp(buf, card) == 0,
        "smartcard object: SerialNumber read as a GUID (braces removed)");
  cm_object_free(o);
  cm_smartcard_free(card_obj);
  CHECK(cm_smartcard_to_object(NULL, &o) == CM_STATUS_NULL_ARGUMENT, "smartcard_to_object NULL");

  /* Unblock (the card is named by smartcard_uuid, no template), then Retire. */
  cm_request_spec spec = spec_of("unblock", NULL, "unblock from C");
  spec.smartcard_uuid = sc;
  char ureq[37], rreq[37];
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_OK && guid_field(o, "Uuid", ureq), "unblock request");
  cm_object_free(o);
  CHECK(cm_session_get_authentication_response(s, ureq, sc, card, NULL, challenge, 8, 1, response, 8, &len) == CM_STATUS_OK,
        "unblock response");
  hex(response, 8, resp_hex);
  printf("AUTH %s %s %s 1\n", key_hex, ch_hex, resp_hex);
  CHECK(cm_session_set_request_status(s, ureq, "completed", NULL) == CM_STATUS_OK, "unblock completed");
  spec = spec_of("Retire", NULL, "retire from C");
  spec.smartcard_uuid = sc;
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_OK && guid_field(o, "Uuid", rreq), "retire request");
  cm_object_free(o);
  CHECK(cm_session_set_smartcard_status(s, rreq, sc, "retired", &o) == CM_STATUS_OK && o &&
            cm_object_kind(o) == CM_OBJECT_SMARTCARD && cm_object_get_enum_name(o, "Status", buf, sizeof buf, &len) == CM_STATUS_OK &&
            strcmp(buf, "Retired") == 0,
        "card retired: %s", buf);
  cm_object_free(o);
  CHECK(cm_session_set_request_status(s, rreq, "Completed", NULL) == CM_STATUS_OK, "retire completed");
  memset(key, 0, sizeof key);
}

/* A template that needs an approval and proposes a PIN; a Pending status has no documented name. */
static void approval_and_pin(cm_session *s, const char *template_uuid) {
  char req[37], sc[37], name[64], pin[64];
  size_t len = 0;
  CHECK(create(s, template_uuid, "approval", req), "create on the approval template");
  cm_request *r = NULL;
  cm_object *o = NULL;
  CHECK(cm_session_get_request(s, req, &r) == CM_STATUS_OK && cm_request_to_object(r, &o) == CM_STATUS_OK, "read");
  cm_request_free(r);
  int64_t status = int_field(o, "Status");
  CHECK(status != 3 && cm_object_get_enum_name(o, "Status", name, sizeof name, &len) == CM_STATUS_ENUM_UNKNOWN,
        "pending: number %lld without a documented name", (long long)status);
  cm_object_free(o);
  /* Binding needs approval: 403. */
  CHECK(!bind_card(s, req, "c0ffee00-e2e0-4000-8000-000000000002", sc) && cm_last_error_status() == CM_STATUS_HTTP_FORBIDDEN,
        "binding a pending request: 403");
  printf("APPROVE %s\n", req);
  fflush(stdout);
  /* The runner approves it through the emulator's control interface, then writes a line to our stdin. */
  if (!fgets(name, sizeof name, stdin)) return;
  CHECK(bind_card(s, req, "c0ffee00-e2e0-4000-8000-000000000002", sc), "bind after approval");
  CHECK(cm_session_get_server_proposed_pin(s, NULL, sc, NULL, NULL, NULL, 0, &len) == CM_STATUS_BUFFER_TOO_SMALL && len >= 4,
        "PIN size query: %zu", len);
  CHECK(cm_session_get_server_proposed_pin(s, req, sc, "c0ffee00-e2e0-4000-8000-000000000002", NULL, pin, sizeof pin, &len) ==
            CM_STATUS_OK,
        "proposed PIN");
  printf("PIN %s\n", pin);
  uint8_t key[24];
  CHECK(cm_session_get_admin_key(s, req, sc, "c0ffee00-e2e0-4000-8000-000000000002", NULL, key, sizeof key, &len) ==
            CM_STATUS_HTTP_FORBIDDEN,
        "no diversification on this template: 403");
}

static void server_keys(cm_session *s, const char *template_uuid) {
  char req[37];
  CHECK(create(s, template_uuid, "server keys", req), "create on the server-keys template");
  cm_list *opts = NULL, *certs = NULL;
  size_t n = 9, len = 0;
  CHECK(cm_session_get_csr_options(s, req, &opts) == CM_STATUS_OK && cm_list_count(opts, &n) == CM_STATUS_OK && n == 0,
        "no CSRs to build (204: empty list)");
  cm_list_free(opts);
  CHECK(cm_session_submit_certificate_requests(s, req, NULL, 0, "pfx-Passw0rd", NULL, &certs) == CM_STATUS_OK &&
            cm_list_count(certs, &n) == CM_STATUS_OK && n >= 2,
        "server keys: %zu certificates (more than requested)", n);
  int pfx = 0;
  for (size_t i = 0; i < n; i++) {
    cm_object *c = NULL;
    int32_t is_pfx = 0;
    if (cm_list_get(certs, i, &c) == CM_STATUS_OK && cm_object_get_bool(c, "isPfx", &is_pfx) == CM_STATUS_OK && is_pfx &&
        cm_object_get_bytes(c, "Pfx", NULL, 0, &len) == CM_STATUS_BUFFER_TOO_SMALL && len > 500)
      pfx++;
    cm_object_free(c);
  }
  CHECK(pfx >= 1, "a PFX");
  cm_list_free(certs);
}

/* Every state change against a server that applies it, then drops the connection: OUTCOME_UNKNOWN, and for
 * a created request the reconcile finds it. The runner checks the server saw each exactly once. */
static void at_most_once(const char *breaking_url, const char *template_uuid, const uint8_t *csr, size_t csr_len) {
  cm_session *s = open_session(breaking_url);
  cm_request_spec spec = spec_of("Enroll", template_uuid, "at most once from C");
  int64_t before = (int64_t)time(NULL);
  cm_object *o = (cm_object *)1;
  CHECK(cm_session_create_request(s, &spec, &o) == CM_STATUS_OUTCOME_UNKNOWN && o == NULL, "create: outcome unknown");
  CHECK(strstr(last_message(), "cm_session_find_created_requests") != NULL, "advice names the reconcile");
  cm_list *found = NULL;
  size_t n = 0;
  CHECK(cm_session_find_created_requests(s, &spec, before, &found) == CM_STATUS_OK && cm_list_count(found, &n) == CM_STATUS_OK &&
            n == 1,
        "reconcile finds the created request: %zu", n);
  char req[37] = "";
  cm_object *r = NULL;
  CHECK(cm_list_get(found, 0, &r) == CM_STATUS_OK && guid_field(r, "Uuid", req), "its uuid");
  cm_object_free(r);
  cm_list_free(found);
  spec.comment = "never sent";
  CHECK(cm_session_find_created_requests(s, &spec, before, &found) == CM_STATUS_OK && cm_list_count(found, &n) == CM_STATUS_OK &&
            n == 0,
        "another spec: nothing");
  cm_list_free(found);
  CHECK(cm_session_find_created_requests(s, NULL, before, &found) == CM_STATUS_NULL_ARGUMENT, "reconcile NULL spec");

  char sc[37];
  CHECK(bind_card(s, req, "c0ffee00-e2e0-4000-8000-000000000003", sc), "binding is not faulted here");
  cm_bytes one = {csr, csr_len};
  cm_bytes two[2] = {{csr, csr_len}, {csr, csr_len}};
  cm_list *opts = NULL;
  CHECK(cm_session_get_csr_options(s, req, &opts) == CM_STATUS_OK && cm_list_count(opts, &n) == CM_STATUS_OK, "options");
  cm_list_free(opts);
  cm_list *certs = (cm_list *)1;
  CHECK(cm_session_submit_certificate_requests(s, req, n == 1 ? &one : two, n, NULL, NULL, &certs) ==
            CM_STATUS_OUTCOME_UNKNOWN && certs == NULL,
        "certificate data: outcome unknown");
  CHECK(cm_session_set_smartcard_status(s, req, sc, "Disabled", &o) == CM_STATUS_OUTCOME_UNKNOWN, "card status: unknown");
  CHECK(cm_session_set_request_status(s, req, "Completed", &o) == CM_STATUS_OUTCOME_UNKNOWN, "request status: unknown");
  printf("ONCE %s\n", req);
  cm_session_free(s);
}

/* Every session export with a NULL session, and the list accessors with a NULL list: CM_STATUS_NULL_ARGUMENT, and
 * the output reset to NULL before anything else. */
static void null_session_everywhere(void) {
  const char *g = "00000000-0000-4000-8000-000000000001";
  cm_request_spec spec = spec_of("Enroll", g, "");
  cm_list *l = (cm_list *)1;
  cm_object *o = (cm_object *)1;
  uint8_t b[32];
  char buf[64];
  size_t len = 0;
#define NULL_LIST(call)                                                                     \
  do {                                                                                      \
    l = (cm_list *)1;                                                                       \
    CHECK((call) == CM_STATUS_NULL_ARGUMENT && l == NULL, "%s with a NULL session", #call); \
  } while (0)
#define NULL_OBJECT(call)                                                                   \
  do {                                                                                      \
    o = (cm_object *)1;                                                                     \
    CHECK((call) == CM_STATUS_NULL_ARGUMENT && o == NULL, "%s with a NULL session", #call); \
  } while (0)
  NULL_LIST(cm_session_list_profile_templates(NULL, &l));
  NULL_OBJECT(cm_session_get_profile_template_policy(NULL, g, "Enroll", &o));
  NULL_OBJECT(cm_session_get_smartcard_config(NULL, g, &o));
  NULL_OBJECT(cm_session_create_request(NULL, &spec, &o));
  NULL_LIST(cm_session_find_created_requests(NULL, &spec, 0, &l));
  NULL_LIST(cm_session_list_requests(NULL, NULL, 0, &l));
  NULL_OBJECT(cm_session_set_request_status(NULL, g, "Completed", &o));
  NULL_OBJECT(cm_session_set_smartcard_status(NULL, g, g, "Retired", &o));
  NULL_LIST(cm_session_get_csr_options(NULL, g, &l));
  NULL_LIST(cm_session_submit_certificate_requests(NULL, g, NULL, 0, NULL, NULL, &l));
  NULL_LIST(cm_session_get_smartcard_operations(NULL, g, &l));
  NULL_LIST(cm_session_get_profile_operations(NULL, g, &l));
  NULL_LIST(cm_session_get_smartcard_certificates(NULL, g, &l));
  NULL_LIST(cm_session_get_profile_certificates(NULL, g, &l));
  NULL_LIST(cm_session_get_user_certificates(NULL, &l));
  NULL_LIST(cm_session_list_profiles(NULL, NULL, &l));
  NULL_OBJECT(cm_session_get_profile(NULL, g, &o));
  NULL_LIST(cm_session_list_request_profiles(NULL, g, &l));
#undef NULL_LIST
#undef NULL_OBJECT
  CHECK(cm_session_get_admin_key(NULL, g, g, g, NULL, b, sizeof b, &len) == CM_STATUS_NULL_ARGUMENT, "admin key: NULL session");
  CHECK(cm_session_get_authentication_response(NULL, g, g, g, NULL, b, 8, 1, b, sizeof b, &len) == CM_STATUS_NULL_ARGUMENT,
        "authentication response: NULL session");
  CHECK(cm_session_get_server_proposed_pin(NULL, g, g, g, NULL, buf, sizeof buf, &len) == CM_STATUS_NULL_ARGUMENT,
        "PIN: NULL session");
  CHECK(cm_list_json(NULL, buf, sizeof buf, &len) == CM_STATUS_NULL_ARGUMENT, "cm_list_json NULL");
  CHECK(cm_list_get_string(NULL, 0, buf, sizeof buf, &len) == CM_STATUS_NULL_ARGUMENT, "cm_list_get_string NULL");
  CHECK(cm_object_get_string_at(NULL, "x", 0, buf, sizeof buf, &len) == CM_STATUS_NULL_ARGUMENT, "get_string_at NULL");
  CHECK(cm_object_get_guid(NULL, "x", buf, sizeof buf, &len) == CM_STATUS_NULL_ARGUMENT, "get_guid NULL");
  CHECK(cm_object_get_bytes(NULL, "x", b, sizeof b, &len) == CM_STATUS_NULL_ARGUMENT, "get_bytes NULL");
  CHECK(cm_object_get_enum_name(NULL, "x", buf, sizeof buf, &len) == CM_STATUS_NULL_ARGUMENT, "get_enum_name NULL");
  CHECK(cm_object_get_count(NULL, "x", &len) == CM_STATUS_NULL_ARGUMENT, "get_count NULL");
  CHECK(cm_object_get_string(NULL, "x", buf, sizeof buf, &len) == CM_STATUS_NULL_ARGUMENT, "get_string NULL");
  cm_list_free(NULL);
  cm_object_free(NULL);
}

/* The statuses CM documents besides 200/201/204/403: a 500 with its correlation id, and the 404 of a server whose
 * REST API is switched off. */
static void documented_statuses(const char *breaking_url, const char *disabled_url, const char *correlation_id) {
  cm_session *s = open_session(breaking_url);
  cm_list *list = (cm_list *)1;
  char buf[128];
  size_t len = 0;
  CHECK(cm_session_get_user_certificates(s, &list) == CM_STATUS_HTTP_SERVER_ERROR && list == NULL, "500");
  CHECK(cm_last_error_http_status() == 500, "HTTP 500 recorded");
  CHECK(cm_last_error_correlation_id(buf, sizeof buf, &len) == CM_STATUS_OK && strcmp(buf, correlation_id) == 0,
        "correlation id %s", buf);
  cm_session_free(s);
  s = open_session(disabled_url);
  CHECK(cm_session_list_profile_templates(s, &list) == CM_STATUS_HTTP_NOT_FOUND && list == NULL, "API off: 404");
  CHECK(strstr(last_message(), "Clm.WebApi.Enabled") != NULL, "404 advice names the switch: %s", last_message());
  cm_object *o = (cm_object *)1;
  CHECK(cm_session_get_profile_template_policy(s, "6b8c1e4a-0f2d-4c37-9a51-2d7e0c3b5a10", "Enroll", &o) ==
                CM_STATUS_HTTP_NOT_FOUND && o == NULL,
        "API off: the policy under either path is 404");
  cm_session_free(s);
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: %s URL BREAKING_URL CSR_DER_FILE TEMPLATE APPROVAL_TEMPLATE SERVER_KEYS_TEMPLATE DISABLED_URL "
                    "CORRELATION_ID\n", argv[0]);
    return 2;
  }
  size_t csr_len = 0;
  uint8_t *csr = read_file(argv[3], &csr_len);
  CHECK(csr != NULL && csr_len > 100, "CSR file");
  if (!csr) return check_summary();
  cm_session *s = open_session(argv[1]);
  char by_name[37];
  CHECK(template_by_name(s, "Smartcard User", by_name) && strcmp(by_name, argv[4]) == 0, "template found by name");
  accessors(s, argv[4]);
  lists_and_bad_input(s, argv[4]);
  flow(s, argv[4], csr, csr_len);
  approval_and_pin(s, argv[5]);
  server_keys(s, argv[6]);
  cm_session_free(s);
  at_most_once(argv[2], argv[4], csr, csr_len);
  documented_statuses(argv[2], argv[7], argv[8]);
  null_session_everywhere();
  free(csr);
  return check_summary();
}
