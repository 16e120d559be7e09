/*
 * The body of the public astra_vault handle, for modules above lib/repo
 * (backups and restores) that need its repository.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_REPO_VAULT_INTERNAL_H
#define ASTRA_REPO_VAULT_INTERNAL_H

#include "astra/vault.h"
#include "repo/repo.h"

struct astra_vault {
	astra__repo *r;
};

#endif
