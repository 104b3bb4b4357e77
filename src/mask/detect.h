/* detect.h: the built-in detectors of sensitive values in text (e-mail, phone, payment
 * card, national ids, API keys), each a hand-written scanner that says, at one position,
 * whether a value starts there, does not, or might once more text arrives (streams).
 *
 * What each one accepts (documented in docs/CONFIG.md, "Data masking"):
 *   email    local@domain.tld: local part of [A-Za-z0-9._%+-] (at most 64), labels of
 *            [A-Za-z0-9-], a last label of at least two letters.
 *   phone    "+" then 8 to 15 digits (spaces, dots, dashes, parentheses between), or a
 *            North American number written in groups: (555) 123-4567, 555-123-4567,
 *            555.123.4567, 1 555 123 4567. A bare run of digits is not a phone.
 *   card     13 to 19 digits, unbroken or in a card's groups (fours, 4-6-5, 4-6-4) split by
 *            single spaces or dashes, passing the Luhn check; a longer run, or one touching
 *            letters or digits, is not a card.
 *   ssn      US Social Security number ddd-dd-dddd or ddd dd dddd (area not 000, 666 or
 *            9xx, group not 00, serial not 0000).
 *   uk_nino  UK National Insurance number: two prefix letters (the ones HMRC issues), six
 *            digits (optionally in pairs), a suffix A-D: AB123456C, AB 12 34 56 C.
 *   api_key  OpenAI and Anthropic keys (sk-..., sk-ant-..., 20+ characters with a digit),
 *            AWS access key ids (AKIA/ASIA + 16), GitHub tokens (ghp_/gho_/ghu_/ghs_/ghr_
 *            + 36, github_pat_ + 22+), Portico's own keys and tokens (pk_/pt_ + 32 base62).
 * Every detector wants a boundary on both sides (no letter or digit glued to the value). */
#ifndef PT_MASK_DETECT_H
#define PT_MASK_DETECT_H

#include <stdbool.h>
#include <stddef.h>

#define PT_DETECTOR_MAP(X) \
    X(EMAIL, "email")      \
    X(PHONE, "phone")      \
    X(CARD, "card")        \
    X(SSN, "ssn")          \
    X(UK_NINO, "uk_nino")  \
    X(API_KEY, "api_key")

typedef enum pt_detector {
#define PT_DETECTOR_ENUM(n, name) PT_DET_##n,
    PT_DETECTOR_MAP(PT_DETECTOR_ENUM)
#undef PT_DETECTOR_ENUM
    PT_DET_COUNT
} pt_detector;

typedef enum pt_scan {
    PT_SCAN_NONE = 0, /* no value starts here */
    PT_SCAN_MATCH,    /* a value is s[i, *end) */
    PT_SCAN_MORE,     /* the text ends while a value could still start here (only when !final) */
} pt_scan;

/* The longest value any detector matches: what a stream can ever need to hold back. */
#define PT_DETECT_MAX 400

/* Tries detector d at s[i] of s[0, n). prev is the byte before s[0] (0 when none); final
 * says no more text follows s[n-1]. */
pt_scan pt_detect_at(pt_detector d, const char *s, size_t n, size_t i, int prev, bool final, size_t *end);

/* The Luhn check over the digits of s[0, n) (other bytes are skipped). */
bool pt_luhn(const char *s, size_t n);

const char *pt_detector_name(pt_detector d);
/* -1 when name is no detector. */
int pt_detector_from_name(const char *name);

#endif
