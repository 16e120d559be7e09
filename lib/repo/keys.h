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
	unsigned epoch; /* the "epoch" of the slot that opened (a hint) */
} astra__slot_tally;

/* Most key epochs a vault may have (rekeys + 1). */
#define ASTRA_MAX_KEY_EPOCHS 1000
/* Largest epoch object a reader reads (1000 base64 masters and JSON). */
#define ASTRA_EPOCH_OBJECT_MAX_BYTES (1 << 18)

/* Derives r's encryption, blob id and chunker subkeys from master and
 * sets up r->mac and r->aead. On failure r may hold some of them; they
 * are released by astra__repo_free. */
int astra__repo_derive_keys(astra__repo *r, const uint8_t master[MASTER_LEN]);

/* Refuses (ASTRA_EINVALID, naming the option) a scrypt cost for a new
 * key slot below ASTRA__SCRYPT_MIN_LOG2N or above what a reader accepts;
 * a key file needs no check. Writes nothing. */
int astra__key_slot_check_kdf(const astra__repo_opts *o);

/* Wraps master under o's secret into a new slot keys/<id> (slot_id_out:
 * the 32 hex digits of <id>), put if absent; epoch > 0 is written as the
 * slot's "epoch" hint. The put is the last step:
 * on failure nothing of this call is stored; the kek is wiped either way. */
int astra__key_slot_write(astra__repo *r, const astra__repo_opts *o,
        const uint8_t master[MASTER_LEN], unsigned epoch, char slot_id_out[33]);

/* Key epochs (docs/format.md "Key epochs"). The epoch object's key of a
 * master ("epochs/" + 32 hex). */
int astra__epoch_key(const uint8_t master[MASTER_LEN], char out[48]);
/* Reads the epoch object of master (sealed under r->aead, which must be
 * master's) and sets r's earlier epochs and id/chunker keys from it; none
 * is the first epoch, unless hint (the slot's "epoch") says otherwise. */
int astra__repo_load_epochs(
        astra__repo *r, const uint8_t master[MASTER_LEN], unsigned hint);
/* Sets r's earlier epochs (n masters, oldest first) and their AEADs. */
int astra__repo_set_epochs(astra__repo *r, const uint8_t *masters, size_t n);
void astra__repo_epochs_free(astra__repo *r);

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
