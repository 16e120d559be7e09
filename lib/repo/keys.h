/*
 * Key slots and subkeys (keys.c): the master key wrapped under a password
 * or key file, and the keys derived from it (docs/format.md).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_KEYS_H
#define ASTRA_REPO_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

#define MASTER_LEN 64

/* Why astra__key_slot_unlock found no slot: counts of the slots skipped
 * by cause, and the message of the first skip. */
typedef struct {
	size_t slots, tried, malformed, unknown, range, nomem, failed;
	char first[512]; /* the first reason a slot was skipped */
} astra__slot_tally;

/* Derives r's encryption, blob id and chunker subkeys from master and
 * sets up r->mac and r->aead. On failure r may hold some of them; they
 * are released by astra__repo_free. */
int astra__repo_derive_keys(astra__repo *r, const uint8_t master[MASTER_LEN]);

/* Refuses (ASTRA_EINVALID, naming the option) a scrypt cost for a new
 * key slot below ASTRA__SCRYPT_MIN_LOG2N or above what a reader accepts;
 * a key file needs no check. Writes nothing. */
int astra__key_slot_check_kdf(const astra__repo_opts *o);

/* Wraps master under o's secret into a new slot keys/<id> (slot_id_out:
 * the 32 hex digits of <id>), put if absent. The put is the last step:
 * on failure nothing of this call is stored; the kek is wiped either way. */
int astra__key_slot_write(astra__repo *r, const astra__repo_opts *o,
        const uint8_t master[MASTER_LEN], char slot_id_out[33]);

/* Unwraps the master key with the first slot that opens, cheapest first;
 * skipped slots are counted in *t. 1 when found (slot_out names it), 0
 * when not, < 0 on a store error. master is wiped by the caller. */
int astra__key_slot_unlock(astra__repo *r, const astra__repo_opts *o,
        uint8_t master[MASTER_LEN], char *slot_out, size_t slot_len,
        astra__slot_tally *t);

/* The error (set and returned) of an open that found no slot, from t. */
int astra__key_slot_unlock_failed(
        const astra__repo *r, const astra__slot_tally *t);

#endif
