/*
 * server/api/compat.h — the other server modules' headers the api calls, in
 * one place: the people layer (store branch), audit and webhooks (events),
 * wallets, addresses and transfers (domain).
 */
#ifndef KURA_SERVER_API_COMPAT_H
#define KURA_SERVER_API_COMPAT_H

#include <jansson.h>

#include "audit/audit.h"
#include "domain/addresses.h"
#include "domain/people.h"
#include "problem/problem.h"
#include "domain/transfers.h"
#include "domain/wallets.h"
#include "store/store.h"
#include "webhook/webhook.h"

#endif /* KURA_SERVER_API_COMPAT_H */
