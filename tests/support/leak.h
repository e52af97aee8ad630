/**
 * @file leak.h
 * @brief A southbound server that echoes the caller's credential, in every
 * way we know a server (or a proxy in front of it) may: the credential
 * tests of the transport and of the whole worker share these.
 *
 * Requests name a pattern by the last number of their path
 * (/api/dcim/devices/<n>/): pattern n % PV_LEAK_PATTERNS, answered with its
 * own status, except that an odd n / PV_LEAK_PATTERNS answers 502 (so a
 * job dies and is dead-lettered). The Authorization value A = "<scheme> <C>";
 * K and S are a v2 token's key and secret ("nbt_<K>.<S>"), the user:password
 * pair and the password of a Basic one, C itself otherwise.
 *
 *  0  403 {"detail":"Invalid token <A>"}
 *  1  403 {"detail":"Invalid token <C>"}
 *  2  403 {"error":..., "message":...} quoting C
 *  3  400 {"token":["<C> is not a valid token"]} (field errors)
 *  4  403 with the status line "403 Invalid token <A>" (as a 502, with a
 *     longer phrase, cut by the transport in the middle of the token)
 *  5  403 text/plain "Invalid token: <A>"
 *  6  401 the key half K alone
 *  7  401 the secret half S alone
 *  8  403 A percent-encoded, every byte
 *  9  403 C JSON-escaped, every character as \\u00XX
 * 10  403 base64 of A
 * 11  403 C in upper case
 * 12  500 {"detail":"upstream said <A>"}
 * 13  200 a device whose fields quote C and A (a success result)
 * 14  409 a bulk answer [{"token":["<A>"]}]
 */
#ifndef PV_TESTS_SUPPORT_LEAK_H
#define PV_TESTS_SUPPORT_LEAK_H

#include "common/buf.h"

#include <stdbool.h>

#define PV_LEAK_PATTERNS 15

/** A v1 token, a v2 token and a Basic credential for the tests. */
#define PV_LEAK_TOKEN_V1 "7a3f9c2e41d85b60e1f2a3b4c5d6e7f8091a2b3c"
#define PV_LEAK_TOKEN_V2 \
  "nbt_Kq7Zr2Lm9Xw4.Sx8Pt3Vn6Qa1Bc5De7Fg9Hj2Kl4Mn6Pq8Rs0Tu3Vw5Y"
#define PV_LEAK_BASIC_USER "provisioner"
#define PV_LEAK_BASIC_PASS "s3cr3t-P4ss/word+x"

/** @brief The answer to pattern n for authorization value auth (a
 *  pv_echo_fn body: path ".../<n>/"). */
void pv_leak_answer(const char *method, const char *path, const char *auth,
                    pv_buf_t *out, void *arg);

/**
 * @returns true if text holds the credential of auth (C, K, S, the base64
 * of A or of C), or any 10 consecutive characters of one, in any spelling
 * the patterns use: any case, percent-encoded, JSON-escaped. which names
 * what was found.
 */
bool pv_leak_found(const char *text, const char *auth, const char **which);

#endif
