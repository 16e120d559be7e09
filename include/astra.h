/*
 * libastra - application-aware backup, restore and clone for Kubernetes.
 * The umbrella header: includes the public API, nothing else.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef ASTRA_H
#define ASTRA_H

#include "astra/common.h"
#include "astra/cluster.h"
#include "astra/vault.h"
#include "astra/app.h"
#include "astra/snapshot.h"
#include "astra/backup.h"
#include "astra/restore.h"
#include "astra/hook.h"
#include "astra/policy.h"

#endif
