#include "custody/store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <utility>

#include "base/check.h"
#include "base/status.h"
#include "base/text.h"

namespace ringfence::custody::store {

using base::Amount;
using base::Cat;
using base::Clip;

namespace {

// Schema migrations, applied in order: entry i takes the schema from version i to i + 1, in one
// transaction together with the version bump. Append new ones; never edit one that shipped.
// docs/ledger.md describes the tables.
constexpr const char* kMigrations[] = {
    // 1: clients, wallets, addresses, the journal and its balances, chain ingestion, the audit
    // log and idempotency records.
    R"sql(
      CREATE TABLE idempotency (
        key TEXT PRIMARY KEY NOT NULL,
        method TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        response BLOB NOT NULL
      ) STRICT;

      CREATE TABLE clients (
        client_id TEXT PRIMARY KEY NOT NULL,
        client_ref TEXT NOT NULL UNIQUE,
        frozen INTEGER NOT NULL CHECK (frozen IN (0, 1)),
        frozen_reason TEXT NOT NULL,
        created_unix_ms INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE wallets (
        wallet_id TEXT PRIMARY KEY NOT NULL,
        asset_id TEXT NOT NULL,
        owner_class TEXT NOT NULL CHECK (owner_class IN ('client', 'house')),
        tier TEXT NOT NULL CHECK (tier IN ('hot', 'cold')),
        signer TEXT NOT NULL
      ) STRICT;

      CREATE TABLE addresses (
        address TEXT PRIMARY KEY NOT NULL,
        asset_id TEXT NOT NULL,
        wallet_id TEXT NOT NULL REFERENCES wallets (wallet_id),
        client_id TEXT REFERENCES clients (client_id),
        key_id TEXT NOT NULL,
        created_unix_ms INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX addresses_by_client ON addresses (client_id, address);
      CREATE INDEX addresses_by_wallet ON addresses (wallet_id, address);

      CREATE TABLE balances (
        account TEXT PRIMARY KEY NOT NULL,
        debits BLOB NOT NULL CHECK (length(debits) = 16),
        credits BLOB NOT NULL CHECK (length(credits) = 16)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE journal (
        seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
        asset_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        reference TEXT NOT NULL,
        created_unix_ms INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE postings (
        seq INTEGER NOT NULL REFERENCES journal (seq),
        idx INTEGER NOT NULL CHECK (idx >= 0),
        account TEXT NOT NULL,
        debit INTEGER NOT NULL CHECK (debit IN (0, 1)),
        amount BLOB NOT NULL CHECK (length(amount) = 16),
        PRIMARY KEY (seq, idx)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX postings_by_account ON postings (account, seq);
      CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
      CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
      CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
      CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;

      CREATE TABLE chain_blocks (
        chain TEXT NOT NULL,
        height INTEGER NOT NULL CHECK (height >= 0),
        hash TEXT NOT NULL,
        parent_hash TEXT NOT NULL,
        PRIMARY KEY (chain, height)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE deposits (
        chain TEXT NOT NULL,
        txid TEXT NOT NULL,
        idx INTEGER NOT NULL CHECK (idx >= 0),
        address TEXT NOT NULL,
        asset_id TEXT NOT NULL,
        client_id TEXT REFERENCES clients (client_id),
        amount BLOB NOT NULL CHECK (length(amount) = 16),
        block_height INTEGER NOT NULL CHECK (block_height >= 0),
        block_hash TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'credited', 'orphaned')),
        credited_seq INTEGER REFERENCES journal (seq),
        PRIMARY KEY (chain, txid, idx)
      ) STRICT;
      CREATE INDEX deposits_by_status ON deposits (chain, status, block_height);
      CREATE INDEX deposits_by_height ON deposits (chain, block_height);
      CREATE INDEX deposits_by_client ON deposits (client_id, status);

      CREATE TABLE observed_balances (
        wallet_id TEXT PRIMARY KEY NOT NULL REFERENCES wallets (wallet_id),
        amount BLOB NOT NULL CHECK (length(amount) = 16),
        height INTEGER NOT NULL CHECK (height >= 0)
      ) STRICT;

      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
        unix_ms INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      ) STRICT;
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    )sql",
    // 2: whitelists and their history, policy decisions, withdrawals, holds, approvals and the
    // withdrawal event log (issue 12).
    R"sql(
      CREATE TABLE whitelist_entries (
        entry_id TEXT PRIMARY KEY NOT NULL,
        client_id TEXT NOT NULL REFERENCES clients (client_id),
        asset_id TEXT NOT NULL,
        address TEXT NOT NULL,
        label TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending_approval', 'active', 'rejected', 'expired', 'removed')),
        requester TEXT NOT NULL,
        approvals_required INTEGER NOT NULL CHECK (approvals_required >= 0),
        approval_group TEXT NOT NULL,
        expires_at_unix_s INTEGER NOT NULL,
        approved_at_unix_s INTEGER NOT NULL,
        usable_from_unix_s INTEGER NOT NULL,
        reason TEXT NOT NULL,
        policy_hash TEXT NOT NULL,
        created_unix_ms INTEGER NOT NULL,
        updated_unix_ms INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX whitelist_live ON whitelist_entries (client_id, asset_id, address)
        WHERE state IN ('pending_approval', 'active');
      CREATE INDEX whitelist_by_client ON whitelist_entries (client_id, entry_id);
      CREATE INDEX whitelist_by_state ON whitelist_entries (state, entry_id);

      CREATE TABLE whitelist_changes (
        seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
        entry_id TEXT NOT NULL REFERENCES whitelist_entries (entry_id),
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        details TEXT NOT NULL,
        unix_ms INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX whitelist_changes_by_entry ON whitelist_changes (entry_id, seq);
      CREATE TRIGGER whitelist_changes_no_update BEFORE UPDATE ON whitelist_changes
        BEGIN SELECT RAISE(ABORT, 'whitelist history is append-only'); END;
      CREATE TRIGGER whitelist_changes_no_delete BEFORE DELETE ON whitelist_changes
        BEGIN SELECT RAISE(ABORT, 'whitelist history is append-only'); END;

      CREATE TABLE policy_decisions (
        decision_id INTEGER PRIMARY KEY NOT NULL CHECK (decision_id >= 1),
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        policy_hash TEXT NOT NULL,
        record_json TEXT NOT NULL,
        unix_ms INTEGER NOT NULL
      ) STRICT;
      CREATE TRIGGER policy_decisions_no_update BEFORE UPDATE ON policy_decisions
        BEGIN SELECT RAISE(ABORT, 'policy decisions are append-only'); END;
      CREATE TRIGGER policy_decisions_no_delete BEFORE DELETE ON policy_decisions
        BEGIN SELECT RAISE(ABORT, 'policy decisions are append-only'); END;

      CREATE TABLE withdrawals (
        withdrawal_id TEXT PRIMARY KEY NOT NULL,
        ordinal INTEGER NOT NULL UNIQUE CHECK (ordinal >= 1),
        client_id TEXT NOT NULL REFERENCES clients (client_id),
        asset_id TEXT NOT NULL,
        amount BLOB NOT NULL CHECK (length(amount) = 16),
        destination TEXT NOT NULL,
        whitelist_entry_id TEXT REFERENCES whitelist_entries (entry_id),
        source_wallet_id TEXT NOT NULL REFERENCES wallets (wallet_id),
        kind TEXT NOT NULL CHECK (kind IN ('withdrawal')),
        chain TEXT NOT NULL,
        network TEXT NOT NULL,
        fee_cap BLOB NOT NULL CHECK (length(fee_cap) = 16),
        fee_asset TEXT NOT NULL,
        fee_charged_to_client INTEGER NOT NULL CHECK (fee_charged_to_client IN (0, 1)),
        requester TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('denied', 'pending_approval', 'approved', 'signing', 'signed',
                                             'broadcast', 'confirmed', 'rejected', 'cancelled', 'failed')),
        reason TEXT NOT NULL,
        approvals_required INTEGER NOT NULL CHECK (approvals_required >= 0),
        approval_group TEXT NOT NULL,
        not_before_unix_s INTEGER NOT NULL,
        expires_at_unix_s INTEGER NOT NULL,
        decision_id INTEGER NOT NULL REFERENCES policy_decisions (decision_id),
        policy_hash TEXT NOT NULL,
        txid TEXT NOT NULL,
        signed_tx BLOB NOT NULL,
        network_fee BLOB CHECK (network_fee IS NULL OR length(network_fee) = 16),
        confirmed_height INTEGER NOT NULL CHECK (confirmed_height >= 0),
        created_unix_ms INTEGER NOT NULL,
        updated_unix_ms INTEGER NOT NULL,
        event_seq INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX withdrawals_by_client ON withdrawals (client_id, ordinal);
      CREATE INDEX withdrawals_by_state ON withdrawals (state, ordinal);
      CREATE INDEX withdrawals_by_asset_time ON withdrawals (asset_id, created_unix_ms);

      CREATE TABLE holds (
        withdrawal_id TEXT PRIMARY KEY NOT NULL REFERENCES withdrawals (withdrawal_id),
        client_id TEXT NOT NULL REFERENCES clients (client_id),
        asset_id TEXT NOT NULL,
        amount BLOB NOT NULL CHECK (length(amount) = 16),
        state TEXT NOT NULL CHECK (state IN ('held', 'released', 'settled')),
        placed_seq INTEGER NOT NULL REFERENCES journal (seq),
        closed_seq INTEGER REFERENCES journal (seq)
      ) STRICT;
      CREATE INDEX holds_open ON holds (state, client_id, asset_id);

      CREATE TABLE approvals (
        target_id TEXT NOT NULL,
        target_kind TEXT NOT NULL CHECK (target_kind IN ('withdrawal', 'whitelist_add')),
        approver_id TEXT NOT NULL,
        signature BLOB NOT NULL CHECK (length(signature) = 64),
        digest BLOB NOT NULL CHECK (length(digest) = 32),
        unix_ms INTEGER NOT NULL,
        seq INTEGER NOT NULL UNIQUE,
        PRIMARY KEY (target_id, approver_id)
      ) STRICT;
      CREATE INDEX approvals_by_target ON approvals (target_id, seq);
      CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals
        BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
      CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
        BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;

      CREATE TABLE withdrawal_events (
        seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
        withdrawal_id TEXT NOT NULL REFERENCES withdrawals (withdrawal_id),
        client_id TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL,
        unix_ms INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX withdrawal_events_by_client ON withdrawal_events (client_id, seq);
      CREATE TRIGGER withdrawal_events_no_update BEFORE UPDATE ON withdrawal_events
        BEGIN SELECT RAISE(ABORT, 'withdrawal events are append-only'); END;
      CREATE TRIGGER withdrawal_events_no_delete BEFORE DELETE ON withdrawal_events
        BEGIN SELECT RAISE(ABORT, 'withdrawal events are append-only'); END;
    )sql",
    // 3: withdrawals found by their transaction id, so that the deposit ingestor can tell our own
    // transactions' outputs (Bitcoin change) from deposits.
    R"sql(
      CREATE INDEX withdrawals_by_txid ON withdrawals (chain, txid) WHERE txid <> '';
    )sql",
    // 4: internal moves (issue 13) in the same table and state machine as withdrawals: kinds
    // 'sweep' (client-hot -> client-cold), 'top_up' (client-cold -> client-hot) and
    // 'fee_reimbursement' (house-hot -> client-hot), which have no client, no policy decision
    // and no hold. (This session writes sweeps; the other two kinds are reserved here so that
    // adding them needs no second rebuild of the table.)
    // SQLite cannot change a column's constraints in place, so the table is rebuilt (with
    // foreign keys off around the migration, Migrate; checked before the commit).
    R"sql(
      CREATE TABLE withdrawals_v4 (
        withdrawal_id TEXT PRIMARY KEY NOT NULL,
        ordinal INTEGER NOT NULL UNIQUE CHECK (ordinal >= 1),
        client_id TEXT REFERENCES clients (client_id),
        asset_id TEXT NOT NULL,
        amount BLOB NOT NULL CHECK (length(amount) = 16),
        destination TEXT NOT NULL,
        whitelist_entry_id TEXT REFERENCES whitelist_entries (entry_id),
        source_wallet_id TEXT NOT NULL REFERENCES wallets (wallet_id),
        kind TEXT NOT NULL CHECK (kind IN ('withdrawal', 'sweep', 'top_up', 'fee_reimbursement')),
        chain TEXT NOT NULL,
        network TEXT NOT NULL,
        fee_cap BLOB NOT NULL CHECK (length(fee_cap) = 16),
        fee_asset TEXT NOT NULL,
        fee_charged_to_client INTEGER NOT NULL CHECK (fee_charged_to_client IN (0, 1)),
        requester TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('denied', 'pending_approval', 'approved', 'signing', 'signed',
                                             'broadcast', 'confirmed', 'rejected', 'cancelled', 'failed')),
        reason TEXT NOT NULL,
        approvals_required INTEGER NOT NULL CHECK (approvals_required >= 0),
        approval_group TEXT NOT NULL,
        not_before_unix_s INTEGER NOT NULL,
        expires_at_unix_s INTEGER NOT NULL,
        decision_id INTEGER REFERENCES policy_decisions (decision_id),
        policy_hash TEXT NOT NULL,
        txid TEXT NOT NULL,
        signed_tx BLOB NOT NULL,
        network_fee BLOB CHECK (network_fee IS NULL OR length(network_fee) = 16),
        confirmed_height INTEGER NOT NULL CHECK (confirmed_height >= 0),
        created_unix_ms INTEGER NOT NULL,
        updated_unix_ms INTEGER NOT NULL,
        event_seq INTEGER NOT NULL,
        CHECK (CASE kind WHEN 'withdrawal' THEN client_id IS NOT NULL AND decision_id IS NOT NULL
                         ELSE client_id IS NULL AND decision_id IS NULL END)
      ) STRICT;
      INSERT INTO withdrawals_v4 SELECT * FROM withdrawals;
      DROP TABLE withdrawals;
      ALTER TABLE withdrawals_v4 RENAME TO withdrawals;
      CREATE INDEX withdrawals_by_client ON withdrawals (client_id, ordinal);
      CREATE INDEX withdrawals_by_state ON withdrawals (state, ordinal);
      CREATE INDEX withdrawals_by_asset_time ON withdrawals (asset_id, created_unix_ms);
      CREATE INDEX withdrawals_by_txid ON withdrawals (chain, txid) WHERE txid <> '';
    )sql",
    // 5: reconciliation (issue 13): each wallet's last reconciliation, asset freezes (an
    // approval target: approvals.target_kind 'asset_freeze', so the append-only approvals
    // table is rebuilt with the wider CHECK), and unknown incoming transfers. The new tables
    // are made IF NOT EXISTS so that re-running it over a file some test rewound to an older
    // version (its schema_version only) is harmless.
    R"sql(
      CREATE TABLE approvals_v5 (
        target_id TEXT NOT NULL,
        target_kind TEXT NOT NULL CHECK (target_kind IN ('withdrawal', 'whitelist_add', 'asset_freeze')),
        approver_id TEXT NOT NULL,
        signature BLOB NOT NULL CHECK (length(signature) = 64),
        digest BLOB NOT NULL CHECK (length(digest) = 32),
        unix_ms INTEGER NOT NULL,
        seq INTEGER NOT NULL UNIQUE,
        PRIMARY KEY (target_id, approver_id)
      ) STRICT;
      INSERT INTO approvals_v5 SELECT * FROM approvals;
      DROP TABLE approvals;
      ALTER TABLE approvals_v5 RENAME TO approvals;
      CREATE INDEX approvals_by_target ON approvals (target_id, seq);
      CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals
        BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
      CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
        BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;

      CREATE TABLE IF NOT EXISTS reconciliations (
        wallet_id TEXT PRIMARY KEY NOT NULL REFERENCES wallets (wallet_id),
        asset_id TEXT NOT NULL,
        chain TEXT NOT NULL,
        height INTEGER NOT NULL CHECK (height >= 0),
        block_hash TEXT NOT NULL,
        chain_balance BLOB NOT NULL CHECK (length(chain_balance) = 16),
        ledger_balance BLOB NOT NULL CHECK (length(ledger_balance) = 16),
        expected TEXT NOT NULL,
        difference TEXT NOT NULL,
        acknowledged TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('ok', 'mismatch')),
        addresses TEXT NOT NULL,
        ledger_seq INTEGER NOT NULL CHECK (ledger_seq >= 0),
        unix_ms INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE IF NOT EXISTS asset_freezes (
        freeze_id TEXT PRIMARY KEY NOT NULL,
        asset_id TEXT NOT NULL,
        reason TEXT NOT NULL,
        details TEXT NOT NULL,
        height INTEGER NOT NULL CHECK (height >= 0),
        state TEXT NOT NULL CHECK (state IN ('frozen', 'lifted')),
        approvals_required INTEGER NOT NULL CHECK (approvals_required >= 1),
        approval_group TEXT NOT NULL,
        created_unix_ms INTEGER NOT NULL,
        updated_unix_ms INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX IF NOT EXISTS asset_freezes_one_frozen ON asset_freezes (asset_id) WHERE state = 'frozen';
      CREATE INDEX IF NOT EXISTS asset_freezes_by_time ON asset_freezes (created_unix_ms, freeze_id);

      CREATE TABLE IF NOT EXISTS unknown_transfers (
        chain TEXT NOT NULL,
        txid TEXT NOT NULL,
        idx INTEGER NOT NULL CHECK (idx >= 0),
        asset_id TEXT NOT NULL,
        address TEXT NOT NULL,
        wallet_id TEXT NOT NULL,
        amount BLOB NOT NULL CHECK (length(amount) = 16),
        block_height INTEGER NOT NULL CHECK (block_height >= 0),
        acknowledged INTEGER NOT NULL CHECK (acknowledged IN (0, 1)),
        freeze_id TEXT REFERENCES asset_freezes (freeze_id),
        recorded_unix_ms INTEGER NOT NULL,
        PRIMARY KEY (chain, txid, idx)
      ) STRICT;
      CREATE INDEX IF NOT EXISTS unknown_transfers_by_asset ON unknown_transfers (asset_id, chain, txid, idx);
      CREATE INDEX IF NOT EXISTS deposits_clientless ON deposits (chain, txid, idx) WHERE client_id IS NULL;
    )sql",
    // 6: internal moves of kind 'gas_funding' (ether from the ETH client-hot wallet into a
    // token deposit account, for the gas of the token's sweep), and room for an internal move
    // to name the policy decision it was planned under (decision_id, optional for them). The
    // table is rebuilt as in version 4.
    R"sql(
      CREATE TABLE withdrawals_v6 (
        withdrawal_id TEXT PRIMARY KEY NOT NULL,
        ordinal INTEGER NOT NULL UNIQUE CHECK (ordinal >= 1),
        client_id TEXT REFERENCES clients (client_id),
        asset_id TEXT NOT NULL,
        amount BLOB NOT NULL CHECK (length(amount) = 16),
        destination TEXT NOT NULL,
        whitelist_entry_id TEXT REFERENCES whitelist_entries (entry_id),
        source_wallet_id TEXT NOT NULL REFERENCES wallets (wallet_id),
        kind TEXT NOT NULL CHECK (kind IN ('withdrawal', 'sweep', 'top_up', 'fee_reimbursement', 'gas_funding')),
        chain TEXT NOT NULL,
        network TEXT NOT NULL,
        fee_cap BLOB NOT NULL CHECK (length(fee_cap) = 16),
        fee_asset TEXT NOT NULL,
        fee_charged_to_client INTEGER NOT NULL CHECK (fee_charged_to_client IN (0, 1)),
        requester TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('denied', 'pending_approval', 'approved', 'signing', 'signed',
                                             'broadcast', 'confirmed', 'rejected', 'cancelled', 'failed')),
        reason TEXT NOT NULL,
        approvals_required INTEGER NOT NULL CHECK (approvals_required >= 0),
        approval_group TEXT NOT NULL,
        not_before_unix_s INTEGER NOT NULL,
        expires_at_unix_s INTEGER NOT NULL,
        decision_id INTEGER REFERENCES policy_decisions (decision_id),
        policy_hash TEXT NOT NULL,
        txid TEXT NOT NULL,
        signed_tx BLOB NOT NULL,
        network_fee BLOB CHECK (network_fee IS NULL OR length(network_fee) = 16),
        confirmed_height INTEGER NOT NULL CHECK (confirmed_height >= 0),
        created_unix_ms INTEGER NOT NULL,
        updated_unix_ms INTEGER NOT NULL,
        event_seq INTEGER NOT NULL,
        CHECK (CASE kind WHEN 'withdrawal' THEN client_id IS NOT NULL AND decision_id IS NOT NULL
                         ELSE client_id IS NULL END)
      ) STRICT;
      INSERT INTO withdrawals_v6 SELECT * FROM withdrawals;
      DROP TABLE withdrawals;
      ALTER TABLE withdrawals_v6 RENAME TO withdrawals;
      CREATE INDEX withdrawals_by_client ON withdrawals (client_id, ordinal);
      CREATE INDEX withdrawals_by_state ON withdrawals (state, ordinal);
      CREATE INDEX withdrawals_by_asset_time ON withdrawals (asset_id, created_unix_ms);
      CREATE INDEX withdrawals_by_txid ON withdrawals (chain, txid) WHERE txid <> '';
    )sql",
    // 7: withdrawals by state and kind, so that the internal moves in flight are found
    // without reading every client withdrawal waiting for its confirmations.
    R"sql(
      CREATE INDEX withdrawals_by_state_kind ON withdrawals (state, kind, ordinal);
    )sql",
};
constexpr int kLatestVersion = static_cast<int>(std::size(kMigrations));

// Every statement a connection runs more than once, prepared on first use and kept.
enum Sql : int {
  kBeginWrite,
  kBeginRead,
  kPinSnapshot,
  kCommit,
  kRollback,
  kSavepoint,
  kReleaseSavepoint,
  kRollbackToSavepoint,
  kMemberSavepoint,
  kMemberRelease,
  kMemberRollback,
  kGetIdempotency,
  kPutIdempotency,
  kGetClient,
  kGetClientByRef,
  kInsertClient,
  kUpdateClientFrozen,
  kListClients,
  kGetWallet,
  kInsertWallet,
  kUpdateWalletSigner,
  kListWallets,
  kInsertAddress,
  kGetAddress,
  kListAddressesOfClient,
  kListAddressesOfWallet,
  kListAddressesAddedAfter,
  kCountAddresses,
  kGetBalance,
  kPutBalance,
  kListBalancesBetween,
  kListBalancesFrom,
  kLastJournalSeq,
  kInsertJournal,
  kInsertPosting,
  kSeqsDesc,
  kAccountSeqsDesc,
  kAccountSeqsRange,
  kEntryBySeq,
  kEntriesRange,
  kGetChainBlock,
  kLastChainBlock,
  kPutChainBlock,
  kDeleteChainBlocksAbove,
  kGetDeposit,
  kInsertDeposit,
  kInsertNewDeposit,
  kReplaceDeposit,
  kListDepositsByStatus,
  kListDepositsAbove,
  kListPendingDepositsUpTo,
  kListPendingDepositsOfClient,
  kSetDepositStatus,
  kPutObservedBalance,
  kGetObservedBalance,
  kAuditHead,
  kAppendAudit,
  kListAudit,
  kInsertWhitelist,
  kGetWhitelist,
  kGetLiveWhitelist,
  kUpdateWhitelist,
  kListWhitelist,
  kListPendingWhitelist,
  kNextWhitelistChangeSeq,
  kInsertWhitelistChange,
  kListWhitelistChanges,
  kNextDecisionId,
  kInsertDecision,
  kListDecisions,
  kGetDecision,
  kNextWithdrawalOrdinal,
  kInsertWithdrawal,
  kGetWithdrawal,
  kListWithdrawals,
  kListWithdrawalsInStates,
  kListWithdrawalsInStatesOfKinds,
  kListWithdrawalsOfClient,
  kListOutflows,
  kSetWithdrawalState,
  kSetWithdrawalSigned,
  kSetWithdrawalSettled,
  kListExecutable,
  kListUnfinishedIds,
  kNextEventSeq,
  kInsertEvent,
  kListEvents,
  kInsertHold,
  kGetHold,
  kCloseHold,
  kListOpenHolds,
  kNextApprovalSeq,
  kInsertApproval,
  kListApprovals,
  kListOverdueWithdrawals,
  kListOverdueWhitelist,
  kFindWithdrawalByTxid,
  kListClientlessDeposits,
  kPutReconciliation,
  kListReconciliations,
  kSetAcknowledged,
  kInsertFreeze,
  kGetFreeze,
  kGetActiveFreeze,
  kListFreezes,
  kListFrozen,
  kLiftFreeze,
  kInsertUnknownTransfer,
  kListUnknownTransfers,
  kListAllUnknownTransfers,
  kAckUnknownTransfer,
  kSqlCount,
};

#define RF_DEPOSIT_COLUMNS \
  "chain, txid, idx, address, asset_id, client_id, amount, block_height, block_hash, status, credited_seq"
#define RF_AUDIT_COLUMNS "seq, unix_ms, actor, action, subject, details, prev_hash, hash"
#define RF_CLIENT_COLUMNS "client_id, client_ref, frozen, frozen_reason, created_unix_ms"
#define RF_ADDRESS_COLUMNS "address, asset_id, wallet_id, client_id, key_id, created_unix_ms"
#define RF_WHITELIST_COLUMNS                                                                                  \
  "entry_id, client_id, asset_id, address, label, state, requester, approvals_required, approval_group,"     \
  " expires_at_unix_s, approved_at_unix_s, usable_from_unix_s, reason, policy_hash, created_unix_ms,"       \
  " updated_unix_ms"
#define RF_WITHDRAWAL_COLUMNS                                                                                 \
  "withdrawal_id, ordinal, client_id, asset_id, amount, destination, whitelist_entry_id, source_wallet_id,"  \
  " kind, chain, network, fee_cap, fee_asset, fee_charged_to_client, requester, state, reason,"             \
  " approvals_required, approval_group, not_before_unix_s, expires_at_unix_s, decision_id, policy_hash,"    \
  " txid, signed_tx, network_fee, confirmed_height, created_unix_ms, updated_unix_ms, event_seq"
#define RF_RECONCILIATION_COLUMNS                                                                      \
  "wallet_id, asset_id, chain, height, block_hash, chain_balance, ledger_balance, expected, difference,"  \
  " acknowledged, state, addresses, ledger_seq, unix_ms"
#define RF_FREEZE_COLUMNS                                                                              \
  "freeze_id, asset_id, reason, details, height, state, approvals_required, approval_group,"           \
  " created_unix_ms, updated_unix_ms"
#define RF_UNKNOWN_TRANSFER_COLUMNS \
  "chain, txid, idx, asset_id, address, wallet_id, amount, block_height, acknowledged, freeze_id, recorded_unix_ms"
#define RF_HOLD_COLUMNS "withdrawal_id, client_id, asset_id, amount, state, placed_seq, closed_seq"
#define RF_LIVE_WITHDRAWAL_STATES "('pending_approval', 'approved', 'signing', 'signed', 'broadcast', 'confirmed')"

constexpr std::array<const char*, kSqlCount> kSqlText = {
    "BEGIN IMMEDIATE",
    "BEGIN DEFERRED",
    "SELECT version FROM schema_version",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT append_journal",
    "RELEASE append_journal",
    "ROLLBACK TO append_journal",
    "SAVEPOINT member",
    "RELEASE member",
    "ROLLBACK TO member",
    "SELECT method, request_hash, response FROM idempotency WHERE key = ?1",
    "INSERT INTO idempotency (key, method, request_hash, response) VALUES (?1, ?2, ?3, ?4)",
    "SELECT " RF_CLIENT_COLUMNS " FROM clients WHERE client_id = ?1",
    "SELECT " RF_CLIENT_COLUMNS " FROM clients WHERE client_ref = ?1",
    "INSERT INTO clients (" RF_CLIENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5)",
    "UPDATE clients SET frozen = ?2, frozen_reason = ?3 WHERE client_id = ?1",
    "SELECT " RF_CLIENT_COLUMNS " FROM clients WHERE client_id > ?1 ORDER BY client_id LIMIT ?2",
    "SELECT wallet_id, asset_id, owner_class, tier, signer FROM wallets WHERE wallet_id = ?1",
    "INSERT INTO wallets (wallet_id, asset_id, owner_class, tier, signer) VALUES (?1, ?2, ?3, ?4, ?5)",
    "UPDATE wallets SET signer = ?2 WHERE wallet_id = ?1",
    "SELECT wallet_id, asset_id, owner_class, tier, signer FROM wallets ORDER BY wallet_id",
    "INSERT INTO addresses (" RF_ADDRESS_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "SELECT " RF_ADDRESS_COLUMNS " FROM addresses WHERE address = ?1",
    "SELECT " RF_ADDRESS_COLUMNS " FROM addresses WHERE client_id = ?1 AND (?2 = '' OR asset_id = ?2)"
    " AND address > ?3 ORDER BY address LIMIT ?4",
    "SELECT " RF_ADDRESS_COLUMNS " FROM addresses WHERE wallet_id = ?1 ORDER BY address",
    "SELECT " RF_ADDRESS_COLUMNS ", rowid FROM addresses WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
    "SELECT count(*) FROM addresses",
    "SELECT debits, credits FROM balances WHERE account = ?1",
    "INSERT INTO balances (account, debits, credits) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (account) DO UPDATE SET debits = excluded.debits, credits = excluded.credits",
    "SELECT account, debits, credits FROM balances WHERE account >= ?1 AND account < ?2 ORDER BY account",
    "SELECT account, debits, credits FROM balances WHERE account >= ?1 ORDER BY account",
    "SELECT coalesce(max(seq), 0) FROM journal",
    "INSERT INTO journal (seq, asset_id, kind, reference, created_unix_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT INTO postings (seq, idx, account, debit, amount) VALUES (?1, ?2, ?3, ?4, ?5)",
    "SELECT seq FROM journal WHERE seq < ?1 AND (?2 = '' OR asset_id = ?2) ORDER BY seq DESC LIMIT ?3",
    "SELECT DISTINCT p.seq FROM postings p JOIN journal j ON j.seq = p.seq"
    " WHERE p.account = ?1 AND p.seq < ?2 AND (?3 = '' OR j.asset_id = ?3) ORDER BY p.seq DESC LIMIT ?4",
    "SELECT DISTINCT seq FROM postings WHERE account = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
    "SELECT j.seq, j.asset_id, j.kind, j.reference, j.created_unix_ms, p.account, p.debit, p.amount"
    " FROM journal j JOIN postings p ON p.seq = j.seq WHERE j.seq = ?1 ORDER BY p.idx",
    "SELECT j.seq, j.asset_id, j.kind, j.reference, j.created_unix_ms, p.account, p.debit, p.amount"
    " FROM journal j JOIN postings p ON p.seq = j.seq WHERE j.seq > ?1 AND j.seq <= ?2 ORDER BY j.seq, p.idx",
    "SELECT height, hash, parent_hash FROM chain_blocks WHERE chain = ?1 AND height = ?2",
    "SELECT height, hash, parent_hash FROM chain_blocks WHERE chain = ?1 ORDER BY height DESC LIMIT 1",
    "INSERT INTO chain_blocks (chain, height, hash, parent_hash) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (chain, height) DO UPDATE SET hash = excluded.hash, parent_hash = excluded.parent_hash",
    "DELETE FROM chain_blocks WHERE chain = ?1 AND height > ?2",
    "SELECT " RF_DEPOSIT_COLUMNS " FROM deposits WHERE chain = ?1 AND txid = ?2 AND idx = ?3",
    "INSERT INTO deposits (" RF_DEPOSIT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    "INSERT INTO deposits (" RF_DEPOSIT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    " ON CONFLICT (chain, txid, idx) DO NOTHING",
    "UPDATE deposits SET address = ?4, asset_id = ?5, client_id = ?6, amount = ?7, block_height = ?8,"
    " block_hash = ?9, status = ?10, credited_seq = ?11 WHERE chain = ?1 AND txid = ?2 AND idx = ?3",
    "SELECT " RF_DEPOSIT_COLUMNS " FROM deposits WHERE chain = ?1 AND status = ?2"
    " ORDER BY block_height, txid, idx",
    "SELECT " RF_DEPOSIT_COLUMNS " FROM deposits WHERE chain = ?1 AND block_height > ?2"
    " ORDER BY block_height, txid, idx",
    "SELECT " RF_DEPOSIT_COLUMNS " FROM deposits WHERE chain = ?1 AND status = 'pending' AND block_height <= ?2"
    " ORDER BY block_height, txid, idx",
    "SELECT " RF_DEPOSIT_COLUMNS " FROM deposits WHERE client_id = ?1 AND status = 'pending'"
    " ORDER BY chain, block_height, txid, idx",
    "UPDATE deposits SET status = ?4, credited_seq = coalesce(?5, credited_seq)"
    " WHERE chain = ?1 AND txid = ?2 AND idx = ?3",
    "INSERT INTO observed_balances (wallet_id, amount, height) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (wallet_id) DO UPDATE SET amount = excluded.amount, height = excluded.height",
    "SELECT amount, height FROM observed_balances WHERE wallet_id = ?1",
    "SELECT " RF_AUDIT_COLUMNS " FROM audit_log ORDER BY seq DESC LIMIT 1",
    "INSERT INTO audit_log (" RF_AUDIT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "SELECT " RF_AUDIT_COLUMNS " FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    "INSERT INTO whitelist_entries (" RF_WHITELIST_COLUMNS ") VALUES"
    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    "SELECT " RF_WHITELIST_COLUMNS " FROM whitelist_entries WHERE entry_id = ?1",
    "SELECT " RF_WHITELIST_COLUMNS " FROM whitelist_entries WHERE client_id = ?1 AND asset_id = ?2"
    " AND address = ?3 AND state IN ('pending_approval', 'active')",
    "UPDATE whitelist_entries SET state = ?2, approved_at_unix_s = ?3, usable_from_unix_s = ?4, reason = ?5,"
    " updated_unix_ms = ?6 WHERE entry_id = ?1",
    "SELECT " RF_WHITELIST_COLUMNS " FROM whitelist_entries WHERE client_id = ?1 AND (?2 = '' OR asset_id = ?2)"
    " AND (?3 = 1 OR state IN ('pending_approval', 'active')) AND entry_id > ?4 ORDER BY entry_id LIMIT ?5",
    "SELECT " RF_WHITELIST_COLUMNS " FROM whitelist_entries WHERE state = 'pending_approval' AND entry_id > ?1"
    " ORDER BY entry_id LIMIT ?2",
    "SELECT coalesce(max(seq), 0) + 1 FROM whitelist_changes",
    "INSERT INTO whitelist_changes (seq, entry_id, action, actor, details, unix_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "SELECT seq, entry_id, action, actor, details, unix_ms FROM whitelist_changes WHERE entry_id = ?1 ORDER BY seq",
    "SELECT coalesce(max(decision_id), 0) + 1 FROM policy_decisions",
    "INSERT INTO policy_decisions (decision_id, kind, subject_id, policy_hash, record_json, unix_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "SELECT decision_id, kind, subject_id, policy_hash, record_json, unix_ms FROM policy_decisions"
    " WHERE decision_id > ?1 ORDER BY decision_id LIMIT ?2",
    "SELECT decision_id, kind, subject_id, policy_hash, record_json, unix_ms FROM policy_decisions"
    " WHERE decision_id = ?1",
    "SELECT coalesce(max(ordinal), 0) + 1 FROM withdrawals",
    "INSERT INTO withdrawals (" RF_WITHDRAWAL_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
    " ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)",
    "SELECT " RF_WITHDRAWAL_COLUMNS " FROM withdrawals WHERE withdrawal_id = ?1",
    "SELECT " RF_WITHDRAWAL_COLUMNS " FROM withdrawals WHERE (?1 = '' OR client_id = ?1) AND (?2 = '' OR asset_id = ?2)"
    " AND (?6 = '' OR kind IN (SELECT value FROM json_each(?6))) AND ordinal < ?4 ORDER BY ordinal DESC LIMIT ?5",
    // The same listing with states (?3, a JSON array of state names): read through the state
    // index, so that finding the few withdrawals in flight costs nothing like reading all.
    "SELECT " RF_WITHDRAWAL_COLUMNS " FROM withdrawals WHERE state IN (SELECT value FROM json_each(?3))"
    " AND (?1 = '' OR client_id = ?1) AND (?2 = '' OR asset_id = ?2) AND ordinal < ?4 ORDER BY ordinal DESC LIMIT ?5",
    // ... with states and kinds (?6, a JSON array): through the state and kind index.
    "SELECT " RF_WITHDRAWAL_COLUMNS " FROM withdrawals WHERE state IN (SELECT value FROM json_each(?3))"
    " AND kind IN (SELECT value FROM json_each(?6)) AND (?1 = '' OR client_id = ?1) AND (?2 = '' OR asset_id = ?2)"
    " AND ordinal < ?4 ORDER BY ordinal DESC LIMIT ?5",
    // ... and for one client, any state: through the client index.
    "SELECT " RF_WITHDRAWAL_COLUMNS " FROM withdrawals WHERE client_id = ?1 AND (?2 = '' OR asset_id = ?2)"
    " AND (?6 = '' OR kind IN (SELECT value FROM json_each(?6))) AND ordinal < ?4 ORDER BY ordinal DESC LIMIT ?5",
    "SELECT " RF_WITHDRAWAL_COLUMNS " FROM withdrawals WHERE asset_id = ?1 AND (?2 = '' OR client_id = ?2)"
    " AND kind = 'withdrawal' AND created_unix_ms >= ?3 AND state IN " RF_LIVE_WITHDRAWAL_STATES " ORDER BY ordinal",
    "UPDATE withdrawals SET state = ?2, reason = ?3, updated_unix_ms = ?4, event_seq = ?5 WHERE withdrawal_id = ?1",
    "UPDATE withdrawals SET txid = ?2, signed_tx = ?3 WHERE withdrawal_id = ?1",
    "UPDATE withdrawals SET network_fee = ?2, confirmed_height = ?3 WHERE withdrawal_id = ?1",
    "SELECT " RF_WITHDRAWAL_COLUMNS " FROM withdrawals WHERE (state = 'approved' AND not_before_unix_s <= ?1)"
    " OR state IN ('signing', 'signed', 'broadcast') ORDER BY state = 'broadcast', ordinal LIMIT ?2",
    "SELECT withdrawal_id FROM withdrawals WHERE state IN ('signing', 'signed', 'broadcast') ORDER BY ordinal LIMIT ?1",
    "SELECT coalesce(max(seq), 0) + 1 FROM withdrawal_events",
    "INSERT INTO withdrawal_events (seq, withdrawal_id, client_id, state, reason, unix_ms)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "SELECT seq, withdrawal_id, client_id, state, reason, unix_ms FROM withdrawal_events"
    " WHERE seq > ?1 AND (?2 = '' OR client_id = ?2) ORDER BY seq LIMIT ?3",
    "INSERT INTO holds (" RF_HOLD_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "SELECT " RF_HOLD_COLUMNS " FROM holds WHERE withdrawal_id = ?1",
    "UPDATE holds SET state = ?2, closed_seq = ?3 WHERE withdrawal_id = ?1 AND state = 'held'",
    "SELECT " RF_HOLD_COLUMNS " FROM holds WHERE state = 'held' ORDER BY client_id, asset_id, withdrawal_id",
    "SELECT coalesce(max(seq), 0) + 1 FROM approvals",
    "INSERT INTO approvals (target_id, target_kind, approver_id, signature, digest, unix_ms, seq)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "SELECT target_id, target_kind, approver_id, signature, digest, unix_ms FROM approvals WHERE target_id = ?1"
    " ORDER BY seq",
    "SELECT " RF_WITHDRAWAL_COLUMNS " FROM withdrawals WHERE state = 'pending_approval' AND expires_at_unix_s <= ?1"
    " ORDER BY ordinal LIMIT ?2",
    "SELECT " RF_WHITELIST_COLUMNS " FROM whitelist_entries WHERE state = 'pending_approval' AND expires_at_unix_s <= ?1"
    " ORDER BY entry_id LIMIT ?2",
    "SELECT withdrawal_id FROM withdrawals WHERE chain = ?1 AND txid = ?2 AND txid <> '' ORDER BY ordinal LIMIT 1",
    "SELECT " RF_DEPOSIT_COLUMNS " FROM deposits WHERE chain = ?1 AND client_id IS NULL AND status <> 'orphaned'"
    " ORDER BY txid, idx",
    "INSERT INTO reconciliations (" RF_RECONCILIATION_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
    " ?12, ?13, ?14) ON CONFLICT (wallet_id) DO UPDATE SET asset_id = excluded.asset_id, chain = excluded.chain,"
    " height = excluded.height, block_hash = excluded.block_hash, chain_balance = excluded.chain_balance,"
    " ledger_balance = excluded.ledger_balance, expected = excluded.expected, difference = excluded.difference,"
    " state = excluded.state, addresses = excluded.addresses, ledger_seq = excluded.ledger_seq,"
    " unix_ms = excluded.unix_ms",
    "SELECT " RF_RECONCILIATION_COLUMNS " FROM reconciliations ORDER BY wallet_id",
    "UPDATE reconciliations SET acknowledged = ?2 WHERE wallet_id = ?1",
    "INSERT INTO asset_freezes (" RF_FREEZE_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    "SELECT " RF_FREEZE_COLUMNS " FROM asset_freezes WHERE freeze_id = ?1",
    "SELECT " RF_FREEZE_COLUMNS " FROM asset_freezes WHERE asset_id = ?1 AND state = 'frozen'",
    "SELECT " RF_FREEZE_COLUMNS " FROM asset_freezes ORDER BY created_unix_ms DESC, freeze_id DESC LIMIT ?1",
    "SELECT " RF_FREEZE_COLUMNS " FROM asset_freezes WHERE state = 'frozen'"
    " ORDER BY created_unix_ms DESC, freeze_id DESC LIMIT ?1",
    "UPDATE asset_freezes SET state = 'lifted', updated_unix_ms = ?2 WHERE freeze_id = ?1 AND state = 'frozen'",
    "INSERT INTO unknown_transfers (" RF_UNKNOWN_TRANSFER_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, NULL, ?9)"
    " ON CONFLICT DO NOTHING",
    "SELECT " RF_UNKNOWN_TRANSFER_COLUMNS " FROM unknown_transfers WHERE asset_id = ?1 ORDER BY chain, txid, idx",
    "SELECT " RF_UNKNOWN_TRANSFER_COLUMNS " FROM unknown_transfers ORDER BY chain, txid, idx",
    "UPDATE unknown_transfers SET acknowledged = 1, freeze_id = ?4 WHERE chain = ?1 AND txid = ?2 AND idx = ?3"
    " AND acknowledged = 0",
};

// The writer's page cache (negative: KiB) and WAL auto-checkpoint interval (pages).
constexpr char kWriterPragmas[] = "PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 8192; PRAGMA temp_store = MEMORY";

constexpr uint32_t kDefaultPageLimit = 100;
constexpr uint32_t kMaxPageLimit = 1000;

// An SQLite result code as a Status: BUSY/LOCKED are ABORTED (retry), I/O and open failures
// UNAVAILABLE, corruption DATA_LOSS, constraint violations FAILED_PRECONDITION unless the caller
// maps them itself.
absl::Status SqlStatus(sqlite3* db, int rc, std::string_view what) {
  std::string message = Cat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::AbortedError(Cat(message, " (the database is busy; retry)"));
    case SQLITE_CONSTRAINT:
    case SQLITE_READONLY:
      return absl::FailedPreconditionError(message);
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_PERM:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_NOMEM:
      return absl::ResourceExhaustedError(message);
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status Exec(sqlite3* db, const char* sql, std::string_view what) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string message = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    absl::Status status = SqlStatus(nullptr, rc, what);
    return absl::Status(status.code(), Cat(what, ": ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ToSqlInt(uint64_t value, std::string_view field) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError(Cat(field, " ", value, " is above 2^63 - 1, which the store cannot hold"));
  }
  return static_cast<int64_t>(value);
}

absl::StatusOr<uint32_t> PageLimit(const Page& page) {
  if (page.limit == 0) return kDefaultPageLimit;
  if (page.limit > kMaxPageLimit) {
    return absl::InvalidArgumentError(Cat("page limit ", page.limit, " is above ", kMaxPageLimit));
  }
  return page.limit;
}

// A journal cursor: the decimal seq rows must be below; empty means from the newest.
absl::StatusOr<int64_t> JournalCursor(const Page& page) {
  if (page.after.empty()) return std::numeric_limits<int64_t>::max();
  const base::BaseUnitsScan scan = base::ScanBaseUnits(page.after);
  if (!scan.ok() || scan.value > static_cast<base::Uint128>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError(Cat("page cursor ", Clip(page.after), " is not a journal sequence number"));
  }
  return static_cast<int64_t>(scan.value);
}

// The smallest string above every string that starts with `prefix`, or nullopt when there is
// none (an empty prefix or one of only 0xff bytes). SQLite compares TEXT bytewise (BINARY).
std::optional<std::string> PrefixUpperBound(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

const char* DepositStatusName(DepositStatus status) {
  switch (status) {
    case DepositStatus::kPending:
      return "pending";
    case DepositStatus::kCredited:
      return "credited";
    case DepositStatus::kOrphaned:
      return "orphaned";
  }
  return "pending";
}

}  // namespace

namespace internal {

// One SQLite connection and its prepared statements. Used by one Txn at a time.
struct Connection {
  sqlite3* db = nullptr;
  bool read_only = false;
  std::array<sqlite3_stmt*, kSqlCount> statements{};

  ~Connection() {
    for (sqlite3_stmt* s : statements) sqlite3_finalize(s);
    sqlite3_close_v2(db);
  }

  absl::StatusOr<sqlite3_stmt*> Prepare(Sql id) {
    sqlite3_stmt*& stmt = statements[id];
    if (stmt == nullptr) {
      const int rc = sqlite3_prepare_v3(db, kSqlText[id], -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) {
        stmt = nullptr;
        return SqlStatus(db, rc, Cat("preparing \"", kSqlText[id], "\""));
      }
    }
    return stmt;
  }
};

}  // namespace internal

namespace {

// A prepared statement in use: binds, steps and reads columns; resets the statement (keeping it
// prepared) when it goes out of scope. Text and blobs are bound as copies, so temporaries are
// safe to pass.
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Query(Query&& other) noexcept
      : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  Query& Text(int i, std::string_view text) {
    Note(sqlite3_bind_text64(stmt_, i, text.empty() ? "" : text.data(), text.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8));
    return *this;
  }
  // NULL for an empty string: optional references (client_id) are NULL when absent so that
  // their foreign keys hold.
  Query& TextOrNull(int i, std::string_view text) {
    if (text.empty()) {
      Note(sqlite3_bind_null(stmt_, i));
      return *this;
    }
    return Text(i, text);
  }
  Query& Int(int i, int64_t value) {
    Note(sqlite3_bind_int64(stmt_, i, value));
    return *this;
  }
  Query& Null(int i) {
    Note(sqlite3_bind_null(stmt_, i));
    return *this;
  }
  Query& IntOrNull(int i, int64_t value) {
    if (value == 0) {
      Note(sqlite3_bind_null(stmt_, i));
      return *this;
    }
    return Int(i, value);
  }
  Query& Blob(int i, std::span<const uint8_t> bytes) {
    static const uint8_t kEmpty = 0;  // a zero-length blob must still be a blob, not NULL
    Note(sqlite3_bind_blob64(stmt_, i, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(), SQLITE_TRANSIENT));
    return *this;
  }
  Query& Amount(int i, base::Amount amount) {
    const std::array<uint8_t, 16> bytes = amount.ToBigEndian();
    return Blob(i, bytes);
  }

  // Resets the statement now rather than at the end of the scope (a pending statement keeps
  // a failed COMMIT's transaction from rolling back).
  void Reset() {
    if (stmt_ != nullptr) sqlite3_reset(stmt_);
  }

  // SQLITE_ROW, SQLITE_DONE or an error code (a failed bind is reported here).
  int Step() {
    if (bind_rc_ != SQLITE_OK) return bind_rc_;
    return sqlite3_step(stmt_);
  }

  std::string ColumnText(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::string ColumnBlobAsString(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  int64_t ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  // A 16-byte big-endian amount; DATA_LOSS for anything else (the schema's CHECK forbids it,
  // so only a file edited behind our back gets here).
  absl::StatusOr<base::Amount> ColumnAmount(int col, std::string_view where) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    if (p == nullptr || sqlite3_column_bytes(stmt_, col) != 16) {
      return absl::DataLossError(Cat("an amount in ", where, " is not 16 bytes"));
    }
    return base::Amount::FromBigEndian(std::span<const uint8_t, 16>(p, 16));
  }
  uint64_t ColumnUint(int col) const {
    const int64_t v = sqlite3_column_int64(stmt_, col);
    return v < 0 ? 0 : static_cast<uint64_t>(v);
  }

  sqlite3* db() const { return db_; }

 private:
  void Note(int rc) {
    if (bind_rc_ == SQLITE_OK && rc != SQLITE_OK) bind_rc_ = rc;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

absl::StatusOr<ClientRow> ReadClient(const Query& q) {
  ClientRow row;
  row.client_id = q.ColumnText(0);
  row.client_ref = q.ColumnText(1);
  row.frozen = q.ColumnInt(2) != 0;
  row.frozen_reason = q.ColumnText(3);
  row.created_unix_ms = q.ColumnInt(4);
  return row;
}

WalletRow ReadWallet(const Query& q) {
  WalletRow row;
  row.wallet_id = q.ColumnText(0);
  row.asset_id = q.ColumnText(1);
  row.owner_class = q.ColumnText(2);
  row.tier = q.ColumnText(3);
  row.signer = q.ColumnText(4);
  return row;
}

AddressRow ReadAddress(const Query& q) {
  AddressRow row;
  row.address = q.ColumnText(0);
  row.asset_id = q.ColumnText(1);
  row.wallet_id = q.ColumnText(2);
  row.client_id = q.ColumnText(3);
  row.key_id = q.ColumnText(4);
  row.created_unix_ms = q.ColumnInt(5);
  return row;
}

absl::StatusOr<DepositRow> ReadDeposit(const Query& q) {
  DepositRow row;
  row.chain = q.ColumnText(0);
  row.txid = q.ColumnText(1);
  row.index = static_cast<uint32_t>(q.ColumnUint(2));
  row.address = q.ColumnText(3);
  row.asset_id = q.ColumnText(4);
  row.client_id = q.ColumnText(5);
  RF_ASSIGN_OR_RETURN(row.amount, q.ColumnAmount(6, "deposits"));
  row.block_height = q.ColumnUint(7);
  row.block_hash = q.ColumnText(8);
  const std::string status = q.ColumnText(9);
  if (status == "pending") {
    row.status = DepositStatus::kPending;
  } else if (status == "credited") {
    row.status = DepositStatus::kCredited;
  } else if (status == "orphaned") {
    row.status = DepositStatus::kOrphaned;
  } else {
    return absl::DataLossError(Cat("deposit ", row.txid, ":", row.index, " has status ", Clip(status)));
  }
  row.credited_seq = q.ColumnIsNull(10) ? 0 : q.ColumnUint(10);
  return row;
}

absl::StatusOr<WhitelistEntryRow> ReadWhitelist(const Query& q) {
  WhitelistEntryRow row;
  row.entry_id = q.ColumnText(0);
  row.client_id = q.ColumnText(1);
  row.asset_id = q.ColumnText(2);
  row.address = q.ColumnText(3);
  row.label = q.ColumnText(4);
  const std::string state = q.ColumnText(5);
  const std::optional<WhitelistState> parsed = ParseWhitelistState(state);
  if (!parsed) return absl::DataLossError(Cat("whitelist entry ", row.entry_id, " has state ", Clip(state)));
  row.state = *parsed;
  row.requester = q.ColumnText(6);
  row.approvals_required = static_cast<uint32_t>(q.ColumnUint(7));
  row.approval_group = q.ColumnText(8);
  row.expires_at_unix_s = q.ColumnInt(9);
  row.approved_at_unix_s = q.ColumnInt(10);
  row.usable_from_unix_s = q.ColumnInt(11);
  row.reason = q.ColumnText(12);
  row.policy_hash = q.ColumnText(13);
  row.created_unix_ms = q.ColumnInt(14);
  row.updated_unix_ms = q.ColumnInt(15);
  return row;
}

absl::StatusOr<WithdrawalRow> ReadWithdrawal(const Query& q) {
  WithdrawalRow row;
  row.withdrawal_id = q.ColumnText(0);
  row.ordinal = q.ColumnUint(1);
  row.client_id = q.ColumnText(2);
  row.asset_id = q.ColumnText(3);
  RF_ASSIGN_OR_RETURN(row.amount, q.ColumnAmount(4, "withdrawals"));
  row.destination = q.ColumnText(5);
  row.whitelist_entry_id = q.ColumnText(6);
  row.source_wallet_id = q.ColumnText(7);
  row.kind = q.ColumnText(8);
  row.chain = q.ColumnText(9);
  row.network = q.ColumnText(10);
  RF_ASSIGN_OR_RETURN(row.fee_cap, q.ColumnAmount(11, "withdrawals"));
  row.fee_asset = q.ColumnText(12);
  row.fee_charged_to_client = q.ColumnInt(13) != 0;
  row.requester = q.ColumnText(14);
  const std::string state = q.ColumnText(15);
  const std::optional<WithdrawalState> parsed = ParseWithdrawalState(state);
  if (!parsed) return absl::DataLossError(Cat("withdrawal ", row.withdrawal_id, " has state ", Clip(state)));
  row.state = *parsed;
  row.reason = q.ColumnText(16);
  row.approvals_required = static_cast<uint32_t>(q.ColumnUint(17));
  row.approval_group = q.ColumnText(18);
  row.not_before_unix_s = q.ColumnInt(19);
  row.expires_at_unix_s = q.ColumnInt(20);
  row.decision_id = q.ColumnUint(21);
  row.policy_hash = q.ColumnText(22);
  row.txid = q.ColumnText(23);
  row.signed_tx = q.ColumnBlobAsString(24);
  if (!q.ColumnIsNull(25)) {
    RF_ASSIGN_OR_RETURN(base::Amount fee, q.ColumnAmount(25, "withdrawals"));
    row.network_fee = fee;
  }
  row.confirmed_height = q.ColumnUint(26);
  row.created_unix_ms = q.ColumnInt(27);
  row.updated_unix_ms = q.ColumnInt(28);
  row.event_seq = q.ColumnUint(29);
  return row;
}

absl::StatusOr<PolicyDecisionRow> ReadDecision(const Query& r) {
  PolicyDecisionRow row;
  row.decision_id = r.ColumnUint(0);
  row.kind = r.ColumnText(1);
  row.subject_id = r.ColumnText(2);
  row.policy_hash = r.ColumnText(3);
  row.record_json = r.ColumnText(4);
  row.unix_ms = r.ColumnInt(5);
  return row;
}

const char* HoldStateName(HoldState state) {
  switch (state) {
    case HoldState::kHeld:
      return "held";
    case HoldState::kReleased:
      return "released";
    case HoldState::kSettled:
      return "settled";
  }
  return "held";
}

absl::StatusOr<HoldRow> ReadHold(const Query& q) {
  HoldRow row;
  row.withdrawal_id = q.ColumnText(0);
  row.client_id = q.ColumnText(1);
  row.asset_id = q.ColumnText(2);
  RF_ASSIGN_OR_RETURN(row.amount, q.ColumnAmount(3, "holds"));
  const std::string state = q.ColumnText(4);
  if (state == "held") {
    row.state = HoldState::kHeld;
  } else if (state == "released") {
    row.state = HoldState::kReleased;
  } else if (state == "settled") {
    row.state = HoldState::kSettled;
  } else {
    return absl::DataLossError(Cat("hold of ", row.withdrawal_id, " has state ", Clip(state)));
  }
  row.placed_seq = q.ColumnUint(5);
  row.closed_seq = q.ColumnIsNull(6) ? 0 : q.ColumnUint(6);
  return row;
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

AuditRow ReadAudit(const Query& q) {
  AuditRow row;
  row.seq = q.ColumnUint(0);
  row.unix_ms = q.ColumnInt(1);
  row.actor = q.ColumnText(2);
  row.action = q.ColumnText(3);
  row.subject = q.ColumnText(4);
  row.details = q.ColumnText(5);
  row.prev_hash = q.ColumnText(6);
  row.hash = q.ColumnText(7);
  return row;
}

// A JSON array of `names` ("" for none). Only for names of our own that need no escaping.
std::string JsonStrings(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) out += Cat(out.empty() ? "[\"" : ",\"", name, "\"");
  if (!out.empty()) out += "]";
  return out;
}

// WithdrawalFilter::kinds as a JSON array; INVALID_ARGUMENT for a kind the schema does not know.
absl::StatusOr<std::string> JsonKinds(const std::vector<std::string>& kinds) {
  static constexpr std::string_view kKnown[] = {"withdrawal", "sweep", "top_up", "fee_reimbursement", "gas_funding"};
  std::vector<std::string_view> names;
  for (const std::string& kind : kinds) {
    if (std::find(std::begin(kKnown), std::end(kKnown), kind) == std::end(kKnown)) {
      return absl::InvalidArgumentError(Cat("kinds: no withdrawal kind '", Clip(kind), "'"));
    }
    names.push_back(kind);
  }
  return JsonStrings(names);
}

}  // namespace

// Commits the transaction open on `connection` through its prepared COMMIT; if that fails,
// rolls back what is left open (nothing of it was written).
absl::Status CommitConnection(internal::Connection& connection) {
  absl::StatusOr<sqlite3_stmt*> commit = connection.Prepare(kCommit);
  absl::Status status = commit.status();
  if (commit.ok()) {
    const int rc = sqlite3_step(*commit);
    if (rc != SQLITE_DONE) status = SqlStatus(connection.db, rc, "committing");
    sqlite3_reset(*commit);
  }
  if (!status.ok() && !sqlite3_get_autocommit(connection.db)) {
    Exec(connection.db, "ROLLBACK", "rolling back after a failed commit").IgnoreError();
  }
  return status;
}

// What the members of a batch learn when SQLite rolled its transaction back on its own.
absl::Status BatchLost() {
  return absl::UnavailableError(
      "the database rolled the transaction back (an I/O or disk error); nothing of it was written; retry");
}

// A transaction on one connection: the writer (BEGIN IMMEDIATE, writer_mu_ held for its life)
// or a pooled reader (BEGIN DEFERRED pinned to a snapshot at once).
class SqliteTxn final : public Txn {
 public:
  // Writer: a member of the store's open batch (see SqliteStore's file comment).
  // `large`: it opens a batch of its own (SqliteStore::BeginLarge).
  SqliteTxn(SqliteStore* store, internal::Connection* writer, std::unique_lock<std::timed_mutex> writer_lock,
            bool large = false)
      : connection_(writer), writable_(true), large_(large), writer_lock_(std::move(writer_lock)), store_(store) {}
  // Reader; handed back to `store` at the end.
  SqliteTxn(SqliteStore* store, std::unique_ptr<internal::Connection> reader)
      : connection_(reader.get()), writable_(false), store_(store), reader_(std::move(reader)) {}

  ~SqliteTxn() override {
    if (writable_) {
      // A member that did not commit: its savepoint is rolled back, the batch goes on.
      if (member_) EndMember(/*keep=*/false).IgnoreError();
      Release();
      return;
    }
    if (!ended_ && !sqlite3_get_autocommit(connection_->db)) {
      // Best effort: if even ROLLBACK fails, SQLite rolls back when the connection next starts
      // a transaction or closes; nothing of this one was committed either way.
      auto q = Statement(kRollback);
      if (q.ok()) q->Step();
    }
    Release();
  }

  // Starts the transaction. Called once, right after construction.
  absl::Status Start() {
    sqlite3* db = connection_->db;
    if (writable_) return StartMember();
    if (!sqlite3_get_autocommit(db)) {
      // Left open by a failed rollback of an earlier Txn: end it before starting ours.
      Exec(db, "ROLLBACK", "rolling back a transaction left open").IgnoreError();
    }
    {
      RF_ASSIGN_OR_RETURN(Query begin, Statement(writable_ ? kBeginWrite : kBeginRead));
      const int rc = begin.Step();
      if (rc != SQLITE_DONE) {
        ended_ = true;
        return SqlStatus(db, rc, writable_ ? "starting a write transaction" : "starting a read transaction");
      }
    }
    if (!writable_) {
      // A deferred transaction takes its snapshot at its first read; take it now, so the Txn
      // sees the database as of BeginRead().
      RF_ASSIGN_OR_RETURN(Query pin, Statement(kPinSnapshot));
      const int rc = pin.Step();
      if (rc != SQLITE_ROW) return Fail(rc, "starting a read snapshot");
    }
    return absl::OkStatus();
  }

  absl::Status Commit() override {
    RF_RETURN_IF_ERROR(Usable());
    if (writable_) {
      // Durable once this returns OK, whether this member or a later one ran the COMMIT.
      absl::Status status = EndMember(/*keep=*/true);
      ended_ = true;
      return status;
    }
    absl::Status status = CommitOnConnection();
    ended_ = true;
    // Only now, with every statement of this Txn reset, may another Txn use the connection.
    Release();
    return status;
  }

  // --- idempotency ---------------------------------------------------------------------------
  absl::StatusOr<std::optional<IdempotencyRow>> GetIdempotency(const std::string& key) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetIdempotency));
    q.Text(1, key);
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<IdempotencyRow>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading an idempotency record");
    IdempotencyRow row;
    row.key = key;
    row.method = q.ColumnText(0);
    row.request_hash = q.ColumnText(1);
    row.response = q.ColumnBlobAsString(2);
    return std::optional<IdempotencyRow>(std::move(row));
  }

  absl::Status PutIdempotency(const IdempotencyRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kPutIdempotency));
    q.Text(1, row.key).Text(2, row.method).Text(3, row.request_hash);
    q.Blob(4, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(row.response.data()), row.response.size()));
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(Cat("idempotency key ", Clip(row.key), " is already recorded"));
    }
    return Done(rc, "recording an idempotency key");
  }

  // --- clients -------------------------------------------------------------------------------
  absl::StatusOr<std::optional<ClientRow>> GetClient(const std::string& client_id) override {
    return OneClient(kGetClient, client_id);
  }
  absl::StatusOr<std::optional<ClientRow>> GetClientByRef(const std::string& client_ref) override {
    return OneClient(kGetClientByRef, client_ref);
  }

  absl::Status InsertClient(const ClientRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertClient));
    q.Text(1, row.client_id).Text(2, row.client_ref).Int(3, row.frozen ? 1 : 0).Text(4, row.frozen_reason);
    q.Int(5, row.created_unix_ms);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(Cat("client id ", Clip(row.client_id), " is taken"));
    }
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      return absl::AlreadyExistsError(Cat("client_ref ", Clip(row.client_ref), " is taken"));
    }
    return Done(rc, "inserting a client");
  }

  absl::Status UpdateClientFrozen(const std::string& client_id, bool frozen, const std::string& reason) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kUpdateClientFrozen));
    q.Text(1, client_id).Int(2, frozen ? 1 : 0).Text(3, reason);
    RF_RETURN_IF_ERROR(Done(q.Step(), "updating a client"));
    if (sqlite3_changes(connection_->db) == 0) {
      return absl::NotFoundError(Cat("no client ", Clip(client_id)));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<ClientRow>> ListClients(const Page& page) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(uint32_t limit, PageLimit(page));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListClients));
    q.Text(1, page.after).Int(2, limit);
    std::vector<ClientRow> rows;
    RF_RETURN_IF_ERROR(EachRow(q, "listing clients", [&]() -> absl::Status {
      RF_ASSIGN_OR_RETURN(ClientRow row, ReadClient(q));
      rows.push_back(std::move(row));
      return absl::OkStatus();
    }));
    return rows;
  }

  // --- wallets and addresses -----------------------------------------------------------------
  absl::Status UpsertWallet(const WalletRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    std::optional<WalletRow> existing;
    {
      RF_ASSIGN_OR_RETURN(Query q, Statement(kGetWallet));
      q.Text(1, row.wallet_id);
      const int rc = q.Step();
      if (rc == SQLITE_ROW) {
        existing = ReadWallet(q);
      } else if (rc != SQLITE_DONE) {
        return Fail(rc, "reading a wallet");
      }
    }
    if (existing) {
      // A wallet's asset, owner class and tier are what segregation rests on: once recorded
      // they never change (a client wallet turning into a house wallet would hide client funds).
      if (existing->asset_id != row.asset_id || existing->owner_class != row.owner_class ||
          existing->tier != row.tier) {
        return absl::FailedPreconditionError(
            Cat("wallet ", Clip(row.wallet_id), " is recorded as ", existing->asset_id, " ", existing->owner_class, "/",
                existing->tier, "; it cannot become ", Clip(row.asset_id), " ", Clip(row.owner_class), "/",
                Clip(row.tier)));
      }
      if (existing->signer == row.signer) return absl::OkStatus();
      RF_ASSIGN_OR_RETURN(Query q, Statement(kUpdateWalletSigner));
      q.Text(1, row.wallet_id).Text(2, row.signer);
      return Done(q.Step(), "updating a wallet's signer");
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertWallet));
    q.Text(1, row.wallet_id).Text(2, row.asset_id).Text(3, row.owner_class).Text(4, row.tier).Text(5, row.signer);
    const int rc = q.Step();
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return absl::InvalidArgumentError(Cat("wallet ", Clip(row.wallet_id), ": owner_class must be client|house and "
                                            "tier hot|cold (", sqlite3_errmsg(connection_->db), ")"));
    }
    return Done(rc, "inserting a wallet");
  }

  absl::StatusOr<std::vector<WalletRow>> ListWallets() override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListWallets));
    std::vector<WalletRow> rows;
    RF_RETURN_IF_ERROR(EachRow(q, "listing wallets", [&]() -> absl::Status {
      rows.push_back(ReadWallet(q));
      return absl::OkStatus();
    }));
    return rows;
  }

  absl::Status InsertAddress(const AddressRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertAddress));
    q.Text(1, row.address).Text(2, row.asset_id).Text(3, row.wallet_id).TextOrNull(4, row.client_id);
    q.Text(5, row.key_id).Int(6, row.created_unix_ms);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(Cat("address ", Clip(row.address, 100), " is already known"));
    }
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return absl::NotFoundError(Cat("address ", Clip(row.address, 100), ": no wallet ", Clip(row.wallet_id),
                                     row.client_id.empty() ? "" : Cat(" or no client ", Clip(row.client_id))));
    }
    return Done(rc, "inserting an address");
  }

  absl::StatusOr<std::optional<AddressRow>> GetAddress(const std::string& address) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetAddress));
    q.Text(1, address);
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<AddressRow>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading an address");
    return std::optional<AddressRow>(ReadAddress(q));
  }

  absl::StatusOr<std::vector<AddressRow>> ListAddressesOfClient(const std::string& client_id,
                                                                const std::string& asset_id,
                                                                const Page& page) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(uint32_t limit, PageLimit(page));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListAddressesOfClient));
    q.Text(1, client_id).Text(2, asset_id).Text(3, page.after).Int(4, limit);
    std::vector<AddressRow> rows;
    RF_RETURN_IF_ERROR(EachRow(q, "listing a client's addresses", [&]() -> absl::Status {
      rows.push_back(ReadAddress(q));
      return absl::OkStatus();
    }));
    return rows;
  }

  absl::StatusOr<std::vector<std::pair<uint64_t, AddressRow>>> ListAddressesAddedAfter(uint64_t after,
                                                                                      uint32_t limit) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(int64_t position, ToSqlInt(after, "after"));
    if (limit == 0 || limit > 10 * kMaxPageLimit) {
      return absl::InvalidArgumentError(Cat("address page limit ", limit, " is outside 1..", 10 * kMaxPageLimit));
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListAddressesAddedAfter));
    q.Int(1, position).Int(2, limit);
    std::vector<std::pair<uint64_t, AddressRow>> rows;
    RF_RETURN_IF_ERROR(EachRow(q, "listing addresses by position", [&]() -> absl::Status {
      rows.emplace_back(q.ColumnUint(6), ReadAddress(q));
      return absl::OkStatus();
    }));
    return rows;
  }

  absl::StatusOr<uint64_t> CountAddresses() override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kCountAddresses));
    const int rc = q.Step();
    if (rc != SQLITE_ROW) return Fail(rc, "counting addresses");
    return q.ColumnUint(0);
  }

  absl::StatusOr<std::vector<AddressRow>> ListAddressesOfWallet(const std::string& wallet_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListAddressesOfWallet));
    q.Text(1, wallet_id);
    std::vector<AddressRow> rows;
    RF_RETURN_IF_ERROR(EachRow(q, "listing a wallet's addresses", [&]() -> absl::Status {
      rows.push_back(ReadAddress(q));
      return absl::OkStatus();
    }));
    return rows;
  }

  // --- ledger --------------------------------------------------------------------------------
  absl::StatusOr<AccountBalance> GetBalanceForUpdate(const std::string& account) override {
    // BEGIN IMMEDIATE already holds the database's one write lock, which covers every row.
    RF_RETURN_IF_ERROR(Writable());
    return ReadBalance(account);
  }

  absl::StatusOr<AccountBalance> GetBalance(const std::string& account) override {
    RF_RETURN_IF_ERROR(Usable());
    return ReadBalance(account);
  }

  absl::StatusOr<std::vector<std::pair<std::string, AccountBalance>>> ListBalances(
      const std::string& prefix) override {
    RF_RETURN_IF_ERROR(Usable());
    const std::optional<std::string> upper = PrefixUpperBound(prefix);
    RF_ASSIGN_OR_RETURN(Query q, Statement(upper ? kListBalancesBetween : kListBalancesFrom));
    q.Text(1, prefix);
    if (upper) q.Text(2, *upper);
    std::vector<std::pair<std::string, AccountBalance>> rows;
    RF_RETURN_IF_ERROR(EachRow(q, "listing balances", [&]() -> absl::Status {
      AccountBalance balance;
      RF_ASSIGN_OR_RETURN(balance.debits, q.ColumnAmount(1, "balances"));
      RF_ASSIGN_OR_RETURN(balance.credits, q.ColumnAmount(2, "balances"));
      rows.emplace_back(q.ColumnText(0), balance);
      return absl::OkStatus();
    }));
    return rows;
  }

  absl::StatusOr<uint64_t> AppendJournal(JournalEntry entry) override {
    return AppendJournalBatch(std::span<const JournalEntry>(&entry, 1));
  }

  absl::StatusOr<uint64_t> AppendJournalBatch(std::span<const JournalEntry> entries) override {
    RF_RETURN_IF_ERROR(Writable());
    if (entries.empty()) return absl::InvalidArgumentError("a journal append needs at least one entry");
    for (const JournalEntry& entry : entries) {
      if (entry.postings.empty()) return absl::InvalidArgumentError("a journal entry needs postings");
      Amount debits, credits;
      for (const Posting& p : entry.postings) {
        Amount& side = p.debit ? debits : credits;
        side = base::AmountOrDie(side.CheckedAdd(p.amount));
      }
      RF_CHECK(debits == credits, Cat("journal entry ", Clip(entry.kind), " ", Clip(entry.reference),
                                      " does not balance: debits ", debits.ToBaseUnitString(), ", credits ",
                                      credits.ToBaseUnitString()));
    }
    // A savepoint, so that an append that fails half-way leaves nothing behind even if the
    // caller goes on to commit the transaction.
    RF_RETURN_IF_ERROR(StepStatement(kSavepoint, "starting a journal append"));
    absl::StatusOr<uint64_t> seq = AppendJournalInSavepoint(entries);
    if (!seq.ok()) {
      if (!broken_) {
        StepStatement(kRollbackToSavepoint, "undoing a journal append").IgnoreError();
        StepStatement(kReleaseSavepoint, "undoing a journal append").IgnoreError();
      }
      return seq.status();
    }
    RF_RETURN_IF_ERROR(StepStatement(kReleaseSavepoint, "finishing a journal append"));
    return seq;
  }

  absl::StatusOr<uint64_t> LastJournalSeq() override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kLastJournalSeq));
    const int rc = q.Step();
    if (rc != SQLITE_ROW) return Fail(rc, "reading the last journal seq");
    return q.ColumnUint(0);
  }

  absl::StatusOr<std::vector<JournalEntry>> ListJournal(const std::string& account_prefix,
                                                        const std::string& asset_id, const Page& page) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(uint32_t limit, PageLimit(page));
    RF_ASSIGN_OR_RETURN(int64_t before, JournalCursor(page));
    std::set<uint64_t, std::greater<>> seqs;
    if (account_prefix.empty()) {
      RF_ASSIGN_OR_RETURN(Query q, Statement(kSeqsDesc));
      q.Int(1, before).Text(2, asset_id).Int(3, limit);
      RF_RETURN_IF_ERROR(EachRow(q, "listing the journal", [&]() -> absl::Status {
        seqs.insert(q.ColumnUint(0));
        return absl::OkStatus();
      }));
    } else {
      // One index walk per account under the prefix (newest first, at most `limit` each), merged:
      // an account's postings come out of postings_by_account already in seq order.
      RF_ASSIGN_OR_RETURN(auto accounts, ListBalances(account_prefix));
      for (const auto& [account, unused] : accounts) {
        RF_ASSIGN_OR_RETURN(Query q, Statement(kAccountSeqsDesc));
        q.Text(1, account).Int(2, before).Text(3, asset_id).Int(4, limit);
        RF_RETURN_IF_ERROR(EachRow(q, "listing an account's journal", [&]() -> absl::Status {
          seqs.insert(q.ColumnUint(0));
          return absl::OkStatus();
        }));
        while (seqs.size() > limit) seqs.erase(std::prev(seqs.end()));
      }
    }
    std::vector<JournalEntry> entries;
    entries.reserve(seqs.size());
    for (uint64_t seq : seqs) {
      RF_ASSIGN_OR_RETURN(JournalEntry entry, LoadEntry(seq));
      entries.push_back(std::move(entry));
    }
    return entries;
  }

  absl::StatusOr<std::vector<JournalEntry>> JournalRange(const std::string& account_prefix, uint64_t from_seq,
                                                         uint64_t to_seq) override {
    RF_RETURN_IF_ERROR(Usable());
    std::vector<JournalEntry> entries;
    if (to_seq <= from_seq) return entries;
    RF_ASSIGN_OR_RETURN(int64_t from, ToSqlInt(from_seq, "from_seq"));
    RF_ASSIGN_OR_RETURN(int64_t to, ToSqlInt(to_seq, "to_seq"));
    if (account_prefix.empty()) {
      RF_ASSIGN_OR_RETURN(Query q, Statement(kEntriesRange));
      q.Int(1, from).Int(2, to);
      RF_RETURN_IF_ERROR(ReadEntries(q, &entries));
      return entries;
    }
    std::set<uint64_t> seqs;
    RF_ASSIGN_OR_RETURN(auto accounts, ListBalances(account_prefix));
    for (const auto& [account, unused] : accounts) {
      RF_ASSIGN_OR_RETURN(Query q, Statement(kAccountSeqsRange));
      q.Text(1, account).Int(2, from).Int(3, to);
      RF_RETURN_IF_ERROR(EachRow(q, "reading an account's journal", [&]() -> absl::Status {
        seqs.insert(q.ColumnUint(0));
        return absl::OkStatus();
      }));
    }
    entries.reserve(seqs.size());
    for (uint64_t seq : seqs) {
      RF_ASSIGN_OR_RETURN(JournalEntry entry, LoadEntry(seq));
      entries.push_back(std::move(entry));
    }
    return entries;
  }

  // --- chain ingestion -----------------------------------------------------------------------
  absl::StatusOr<std::optional<ChainBlockRow>> GetChainBlock(const std::string& chain, uint64_t height) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(int64_t h, ToSqlInt(height, "height"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetChainBlock));
    q.Text(1, chain).Int(2, h);
    return OneBlock(q, chain);
  }

  absl::StatusOr<std::optional<ChainBlockRow>> LastChainBlock(const std::string& chain) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kLastChainBlock));
    q.Text(1, chain);
    return OneBlock(q, chain);
  }

  absl::Status PutChainBlock(const ChainBlockRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t h, ToSqlInt(row.height, "height"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kPutChainBlock));
    q.Text(1, row.chain).Int(2, h).Text(3, row.hash).Text(4, row.parent_hash);
    return Done(q.Step(), "storing a chain block");
  }

  absl::Status DeleteChainBlocksAbove(const std::string& chain, uint64_t height) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t h, ToSqlInt(height, "height"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kDeleteChainBlocksAbove));
    q.Text(1, chain).Int(2, h);
    return Done(q.Step(), "forgetting chain blocks");
  }

  absl::StatusOr<bool> UpsertDeposit(const DepositRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t height, ToSqlInt(row.block_height, "block_height"));
    RF_ASSIGN_OR_RETURN(int64_t credited_seq, ToSqlInt(row.credited_seq, "credited_seq"));
    {
      // The common case, a transfer seen for the first time: one insert that does nothing if
      // the row exists, in which case the rules below decide.
      RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertNewDeposit));
      q.Text(1, row.chain).Text(2, row.txid).Int(3, row.index).Text(4, row.address).Text(5, row.asset_id);
      q.TextOrNull(6, row.client_id).Amount(7, row.amount).Int(8, height).Text(9, row.block_hash);
      q.Text(10, DepositStatusName(row.status)).IntOrNull(11, credited_seq);
      const int rc = q.Step();
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return absl::NotFoundError(Cat("deposit ", Clip(row.txid, 80), ":", row.index, ": no client ",
                                       Clip(row.client_id), " or no journal entry ", row.credited_seq));
      }
      RF_RETURN_IF_ERROR(Done(rc, "storing a deposit"));
      if (sqlite3_changes(connection_->db) == 1) return true;
    }
    std::optional<DepositRow> existing;
    {
      RF_ASSIGN_OR_RETURN(Query q, Statement(kGetDeposit));
      q.Text(1, row.chain).Text(2, row.txid).Int(3, row.index);
      const int rc = q.Step();
      if (rc == SQLITE_ROW) {
        RF_ASSIGN_OR_RETURN(existing, ReadDeposit(q));
      } else if (rc != SQLITE_DONE) {
        return Fail(rc, "reading a deposit");
      }
    }
    if (existing && existing->block_hash == row.block_hash) return false;
    const char* status = DepositStatusName(row.status);
    if (existing && existing->credited_seq != 0) {
      // Credited once already (then orphaned by a reorganisation, or still credited): the same
      // transfer mined again must never be credited a second time, so it keeps its credit.
      status = DepositStatusName(DepositStatus::kCredited);
      credited_seq = static_cast<int64_t>(existing->credited_seq);
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(existing ? kReplaceDeposit : kInsertDeposit));
    q.Text(1, row.chain).Text(2, row.txid).Int(3, row.index).Text(4, row.address).Text(5, row.asset_id);
    q.TextOrNull(6, row.client_id).Amount(7, row.amount).Int(8, height).Text(9, row.block_hash).Text(10, status);
    q.IntOrNull(11, credited_seq);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return absl::NotFoundError(Cat("deposit ", Clip(row.txid, 80), ":", row.index, ": no client ",
                                     Clip(row.client_id), " or no journal entry ", row.credited_seq));
    }
    RF_RETURN_IF_ERROR(Done(rc, "storing a deposit"));
    return true;
  }

  absl::StatusOr<std::vector<DepositRow>> ListDeposits(const std::string& chain, DepositStatus status) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListDepositsByStatus));
    q.Text(1, chain).Text(2, DepositStatusName(status));
    return Deposits(q);
  }

  absl::StatusOr<std::vector<DepositRow>> ListDepositsAbove(const std::string& chain, uint64_t height) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(int64_t h, ToSqlInt(height, "height"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListDepositsAbove));
    q.Text(1, chain).Int(2, h);
    return Deposits(q);
  }

  absl::StatusOr<std::vector<DepositRow>> ListPendingDepositsUpTo(const std::string& chain,
                                                                  uint64_t max_height) override {
    RF_RETURN_IF_ERROR(Usable());
    const int64_t h = static_cast<int64_t>(std::min<uint64_t>(max_height, std::numeric_limits<int64_t>::max()));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListPendingDepositsUpTo));
    q.Text(1, chain).Int(2, h);
    return Deposits(q);
  }

  absl::StatusOr<std::vector<DepositRow>> ListPendingDepositsOfClient(const std::string& client_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListPendingDepositsOfClient));
    q.Text(1, client_id);
    return Deposits(q);
  }

  absl::Status SetDepositStatus(const std::string& chain, const std::string& txid, uint32_t index,
                                DepositStatus status, uint64_t credited_seq) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t seq, ToSqlInt(credited_seq, "credited_seq"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kSetDepositStatus));
    q.Text(1, chain).Text(2, txid).Int(3, index).Text(4, DepositStatusName(status)).IntOrNull(5, seq);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return absl::NotFoundError(Cat("deposit ", Clip(txid, 80), ":", index, ": no journal entry ", credited_seq));
    }
    RF_RETURN_IF_ERROR(Done(rc, "updating a deposit"));
    if (sqlite3_changes(connection_->db) == 0) {
      return absl::NotFoundError(Cat("no deposit ", Clip(txid, 80), ":", index, " on ", Clip(chain)));
    }
    return absl::OkStatus();
  }

  absl::Status PutObservedBalance(const std::string& wallet_id, Amount amount, uint64_t height) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t h, ToSqlInt(height, "height"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kPutObservedBalance));
    q.Text(1, wallet_id).Amount(2, amount).Int(3, h);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return absl::NotFoundError(Cat("no wallet ", Clip(wallet_id)));
    return Done(rc, "storing an observed balance");
  }

  absl::StatusOr<std::optional<std::pair<Amount, uint64_t>>> GetObservedBalance(const std::string& wallet_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetObservedBalance));
    q.Text(1, wallet_id);
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<std::pair<Amount, uint64_t>>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading an observed balance");
    RF_ASSIGN_OR_RETURN(Amount amount, q.ColumnAmount(0, "observed_balances"));
    return std::optional<std::pair<Amount, uint64_t>>(std::make_pair(amount, q.ColumnUint(1)));
  }

  // --- audit log -----------------------------------------------------------------------------
  absl::StatusOr<std::optional<AuditRow>> AuditHeadForUpdate() override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kAuditHead));
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<AuditRow>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading the audit head");
    return std::optional<AuditRow>(ReadAudit(q));
  }

  absl::Status AppendAudit(const AuditRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t seq, ToSqlInt(row.seq, "audit seq"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kAppendAudit));
    q.Int(1, seq).Int(2, row.unix_ms).Text(3, row.actor).Text(4, row.action).Text(5, row.subject);
    q.Text(6, row.details).Text(7, row.prev_hash).Text(8, row.hash);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(Cat("audit entry ", row.seq, " already exists"));
    }
    return Done(rc, "appending an audit entry");
  }

  absl::StatusOr<std::vector<AuditRow>> ListAudit(uint64_t after_seq, uint32_t limit) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(int64_t after, ToSqlInt(after_seq, "after_seq"));
    if (limit == 0) limit = kDefaultPageLimit;
    if (limit > 10 * kMaxPageLimit) {
      return absl::InvalidArgumentError(Cat("audit page limit ", limit, " is above ", 10 * kMaxPageLimit));
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListAudit));
    q.Int(1, after).Int(2, limit);
    std::vector<AuditRow> rows;
    RF_RETURN_IF_ERROR(EachRow(q, "listing the audit log", [&]() -> absl::Status {
      rows.push_back(ReadAudit(q));
      return absl::OkStatus();
    }));
    return rows;
  }

  // --- whitelists ----------------------------------------------------------------------------
  absl::Status InsertWhitelistEntry(const WhitelistEntryRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertWhitelist));
    q.Text(1, row.entry_id).Text(2, row.client_id).Text(3, row.asset_id).Text(4, row.address).Text(5, row.label);
    q.Text(6, WhitelistStateName(row.state)).Text(7, row.requester).Int(8, row.approvals_required);
    q.Text(9, row.approval_group).Int(10, row.expires_at_unix_s).Int(11, row.approved_at_unix_s);
    q.Int(12, row.usable_from_unix_s).Text(13, row.reason).Text(14, row.policy_hash).Int(15, row.created_unix_ms);
    q.Int(16, row.updated_unix_ms);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(Cat("whitelist entry ", Clip(row.entry_id), " exists"));
    }
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      return absl::AlreadyExistsError(Cat("client ", Clip(row.client_id), " already has a live whitelist entry for ",
                                          Clip(row.asset_id), " ", Clip(row.address, 100)));
    }
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return absl::NotFoundError(Cat("no client ", Clip(row.client_id)));
    return Done(rc, "inserting a whitelist entry");
  }

  absl::StatusOr<std::optional<WhitelistEntryRow>> GetWhitelistEntry(const std::string& entry_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetWhitelist));
    q.Text(1, entry_id);
    return OneRow<WhitelistEntryRow>(q, "reading a whitelist entry", ReadWhitelist);
  }

  absl::StatusOr<std::optional<WhitelistEntryRow>> GetLiveWhitelistEntry(const std::string& client_id,
                                                                        const std::string& asset_id,
                                                                        const std::string& address) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetLiveWhitelist));
    q.Text(1, client_id).Text(2, asset_id).Text(3, address);
    return OneRow<WhitelistEntryRow>(q, "reading a whitelist entry", ReadWhitelist);
  }

  absl::Status UpdateWhitelistEntry(const WhitelistEntryRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kUpdateWhitelist));
    q.Text(1, row.entry_id).Text(2, WhitelistStateName(row.state)).Int(3, row.approved_at_unix_s);
    q.Int(4, row.usable_from_unix_s).Text(5, row.reason).Int(6, row.updated_unix_ms);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      return absl::AlreadyExistsError(Cat("client ", Clip(row.client_id), " already has a live whitelist entry for ",
                                          Clip(row.asset_id), " ", Clip(row.address, 100)));
    }
    RF_RETURN_IF_ERROR(Done(rc, "updating a whitelist entry"));
    if (sqlite3_changes(connection_->db) == 0) return absl::NotFoundError(Cat("no whitelist entry ", Clip(row.entry_id)));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<WhitelistEntryRow>> ListWhitelist(const std::string& client_id,
                                                              const std::string& asset_id, bool include_inactive,
                                                              const Page& page) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(uint32_t limit, PageLimit(page));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListWhitelist));
    q.Text(1, client_id).Text(2, asset_id).Int(3, include_inactive ? 1 : 0).Text(4, page.after).Int(5, limit);
    return Rows<WhitelistEntryRow>(q, "listing a whitelist", ReadWhitelist);
  }

  absl::StatusOr<std::vector<WhitelistEntryRow>> ListPendingWhitelistEntries(const Page& page) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(uint32_t limit, PageLimit(page));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListPendingWhitelist));
    q.Text(1, page.after).Int(2, limit);
    return Rows<WhitelistEntryRow>(q, "listing pending whitelist entries", ReadWhitelist);
  }

  absl::StatusOr<uint64_t> AppendWhitelistChange(const WhitelistChangeRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(uint64_t seq, NextId(kNextWhitelistChangeSeq, "whitelist_changes"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertWhitelistChange));
    q.Int(1, static_cast<int64_t>(seq)).Text(2, row.entry_id).Text(3, row.action).Text(4, row.actor);
    q.Text(5, row.details).Int(6, row.unix_ms);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return absl::NotFoundError(Cat("no whitelist entry ", Clip(row.entry_id)));
    RF_RETURN_IF_ERROR(Done(rc, "appending a whitelist change"));
    return seq;
  }

  absl::StatusOr<std::vector<WhitelistChangeRow>> ListWhitelistChanges(const std::string& entry_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListWhitelistChanges));
    q.Text(1, entry_id);
    return Rows<WhitelistChangeRow>(q, "listing whitelist changes", [](const Query& r) -> absl::StatusOr<WhitelistChangeRow> {
      WhitelistChangeRow row;
      row.seq = r.ColumnUint(0);
      row.entry_id = r.ColumnText(1);
      row.action = r.ColumnText(2);
      row.actor = r.ColumnText(3);
      row.details = r.ColumnText(4);
      row.unix_ms = r.ColumnInt(5);
      return row;
    });
  }

  // --- policy decisions ----------------------------------------------------------------------
  absl::StatusOr<uint64_t> InsertPolicyDecision(const PolicyDecisionRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(uint64_t id, NextId(kNextDecisionId, "policy_decisions"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertDecision));
    q.Int(1, static_cast<int64_t>(id)).Text(2, row.kind).Text(3, row.subject_id).Text(4, row.policy_hash);
    q.Text(5, row.record_json).Int(6, row.unix_ms);
    RF_RETURN_IF_ERROR(Done(q.Step(), "recording a policy decision"));
    return id;
  }

  absl::StatusOr<std::optional<PolicyDecisionRow>> GetPolicyDecision(uint64_t decision_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(int64_t id, ToSqlInt(decision_id, "decision_id"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetDecision));
    q.Int(1, id);
    return OneRow<PolicyDecisionRow>(q, "reading a policy decision", ReadDecision);
  }

  absl::StatusOr<std::vector<PolicyDecisionRow>> ListPolicyDecisions(uint64_t after_id, uint32_t limit) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(int64_t after, ToSqlInt(after_id, "after_id"));
    if (limit == 0 || limit > 10 * kMaxPageLimit) {
      return absl::InvalidArgumentError(Cat("policy decision page limit ", limit, " is not in 1..", 10 * kMaxPageLimit));
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListDecisions));
    q.Int(1, after).Int(2, limit);
    return Rows<PolicyDecisionRow>(q, "listing policy decisions", ReadDecision);
  }

  // --- withdrawals ---------------------------------------------------------------------------
  absl::Status LockAssetOutflows(const std::string& asset_id) override {
    // BEGIN IMMEDIATE already holds the one write lock for the whole transaction.
    (void)asset_id;
    return Writable();
  }

  absl::StatusOr<uint64_t> InsertWithdrawal(const WithdrawalRow& input) override {
    RF_RETURN_IF_ERROR(Writable());
    WithdrawalRow row = input;
    RF_ASSIGN_OR_RETURN(row.ordinal, NextId(kNextWithdrawalOrdinal, "withdrawals"));
    RF_ASSIGN_OR_RETURN(row.event_seq, NextId(kNextEventSeq, "withdrawal_events"));
    {
      RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertWithdrawal));
      q.Text(1, row.withdrawal_id).Int(2, static_cast<int64_t>(row.ordinal)).TextOrNull(3, row.client_id);
      q.Text(4, row.asset_id).Amount(5, row.amount).Text(6, row.destination).TextOrNull(7, row.whitelist_entry_id);
      q.Text(8, row.source_wallet_id).Text(9, row.kind).Text(10, row.chain).Text(11, row.network);
      q.Amount(12, row.fee_cap).Text(13, row.fee_asset).Int(14, row.fee_charged_to_client ? 1 : 0);
      q.Text(15, row.requester).Text(16, WithdrawalStateName(row.state)).Text(17, row.reason);
      q.Int(18, row.approvals_required).Text(19, row.approval_group).Int(20, row.not_before_unix_s);
      q.Int(21, row.expires_at_unix_s).IntOrNull(22, static_cast<int64_t>(row.decision_id)).Text(23, row.policy_hash);
      q.Text(24, row.txid).Blob(25, Bytes(row.signed_tx));
      if (row.network_fee) {
        q.Amount(26, *row.network_fee);
      } else {
        q.Null(26);
      }
      q.Int(27, static_cast<int64_t>(row.confirmed_height)).Int(28, row.created_unix_ms).Int(29, row.updated_unix_ms);
      q.Int(30, static_cast<int64_t>(row.event_seq));
      const int rc = q.Step();
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::AlreadyExistsError(Cat("withdrawal ", Clip(row.withdrawal_id), " exists"));
      }
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return absl::NotFoundError(Cat("withdrawal ", Clip(row.withdrawal_id), ": no client ", Clip(row.client_id),
                                       ", wallet ", Clip(row.source_wallet_id), ", whitelist entry or decision"));
      }
      RF_RETURN_IF_ERROR(Done(rc, "inserting a withdrawal"));
    }
    RF_RETURN_IF_ERROR(InsertEvent(row.event_seq, row.withdrawal_id, row.client_id, row.state, row.reason,
                                   row.created_unix_ms));
    return row.event_seq;
  }

  absl::StatusOr<std::optional<WithdrawalRow>> GetWithdrawal(const std::string& withdrawal_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetWithdrawal));
    q.Text(1, withdrawal_id);
    return OneRow<WithdrawalRow>(q, "reading a withdrawal", ReadWithdrawal);
  }

  absl::StatusOr<std::vector<WithdrawalRow>> ListWithdrawals(const WithdrawalFilter& filter, const Page& page) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(uint32_t limit, PageLimit(page));
    RF_ASSIGN_OR_RETURN(int64_t below, JournalCursor(page));
    // Each filter shape has a statement of its own: one statement for all, with "?1 = '' OR"
    // conditions, could use no index and read every withdrawal ever made.
    std::vector<std::string_view> state_names;
    for (WithdrawalState st : filter.states) state_names.push_back(WithdrawalStateName(st));
    const std::string states = JsonStrings(state_names);
    RF_ASSIGN_OR_RETURN(const std::string kinds, JsonKinds(filter.kinds));
    const Sql shape = !states.empty() ? (!kinds.empty() ? kListWithdrawalsInStatesOfKinds : kListWithdrawalsInStates)
                      : !filter.client_id.empty() ? kListWithdrawalsOfClient
                                                  : kListWithdrawals;
    RF_ASSIGN_OR_RETURN(Query q, Statement(shape));
    q.Text(1, filter.client_id).Text(2, filter.asset_id).Int(4, below).Int(5, limit);
    if (!states.empty()) q.Text(3, states);
    if (shape != kListWithdrawalsInStates) q.Text(6, kinds);
    return Rows<WithdrawalRow>(q, "listing withdrawals", ReadWithdrawal);
  }

  absl::StatusOr<std::vector<WithdrawalRow>> ListOutflows(const std::string& asset_id, const std::string& client_id,
                                                         int64_t since_unix_ms) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListOutflows));
    q.Text(1, asset_id).Text(2, client_id).Int(3, since_unix_ms);
    return Rows<WithdrawalRow>(q, "listing outflows", ReadWithdrawal);
  }

  absl::StatusOr<uint64_t> TransitionWithdrawal(const std::string& withdrawal_id,
                                                std::span<const WithdrawalState> from, WithdrawalState to,
                                                const std::string& reason, int64_t now_unix_ms) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(std::optional<WithdrawalRow> row, GetWithdrawal(withdrawal_id));
    if (!row) return absl::NotFoundError(Cat("no withdrawal ", Clip(withdrawal_id)));
    if (std::find(from.begin(), from.end(), row->state) == from.end()) {
      return absl::FailedPreconditionError(Cat("withdrawal ", withdrawal_id, " is ", WithdrawalStateName(row->state),
                                               "; it cannot become ", WithdrawalStateName(to)));
    }
    RF_ASSIGN_OR_RETURN(uint64_t seq, NextId(kNextEventSeq, "withdrawal_events"));
    {
      RF_ASSIGN_OR_RETURN(Query q, Statement(kSetWithdrawalState));
      q.Text(1, withdrawal_id).Text(2, WithdrawalStateName(to)).Text(3, reason).Int(4, now_unix_ms);
      q.Int(5, static_cast<int64_t>(seq));
      RF_RETURN_IF_ERROR(Done(q.Step(), "updating a withdrawal's state"));
    }
    RF_RETURN_IF_ERROR(InsertEvent(seq, withdrawal_id, row->client_id, to, reason, now_unix_ms));
    return seq;
  }

  absl::StatusOr<std::vector<WithdrawalEventRow>> ListWithdrawalEvents(uint64_t after_seq, const std::string& client_id,
                                                                      uint32_t limit) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(int64_t after, ToSqlInt(after_seq, "after_seq"));
    if (limit == 0 || limit > 10 * kMaxPageLimit) {
      return absl::InvalidArgumentError(Cat("withdrawal event page limit ", limit, " is not in 1..", 10 * kMaxPageLimit));
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListEvents));
    q.Int(1, after).Text(2, client_id).Int(3, limit);
    return Rows<WithdrawalEventRow>(q, "listing withdrawal events", [](const Query& r) -> absl::StatusOr<WithdrawalEventRow> {
      WithdrawalEventRow row;
      row.seq = r.ColumnUint(0);
      row.withdrawal_id = r.ColumnText(1);
      row.client_id = r.ColumnText(2);
      const std::string state = r.ColumnText(3);
      const std::optional<WithdrawalState> parsed = ParseWithdrawalState(state);
      if (!parsed) return absl::DataLossError(Cat("withdrawal event ", row.seq, " has state ", Clip(state)));
      row.state = *parsed;
      row.reason = r.ColumnText(4);
      row.unix_ms = r.ColumnInt(5);
      return row;
    });
  }

  absl::StatusOr<std::optional<std::string>> FindWithdrawalByTxid(const std::string& chain,
                                                                  const std::string& txid) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kFindWithdrawalByTxid));
    q.Text(1, chain).Text(2, txid);
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return Fail(rc, "finding a withdrawal by its txid");
    return std::optional<std::string>(q.ColumnText(0));
  }

  // --- reconciliation --------------------------------------------------------------------------
  absl::StatusOr<std::vector<DepositRow>> ListClientlessDeposits(const std::string& chain) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListClientlessDeposits));
    q.Text(1, chain);
    return Deposits(q);
  }

  absl::Status PutReconciliation(const ReconciliationRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t height, ToSqlInt(row.height, "height"));
    RF_ASSIGN_OR_RETURN(int64_t seq, ToSqlInt(row.ledger_seq, "ledger_seq"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kPutReconciliation));
    q.Text(1, row.wallet_id).Text(2, row.asset_id).Text(3, row.chain).Int(4, height).Text(5, row.block_hash);
    q.Amount(6, row.chain_balance).Amount(7, row.ledger_balance).Text(8, row.expected).Text(9, row.difference);
    q.Text(10, row.acknowledged.empty() ? "0" : row.acknowledged).Text(11, row.state).Text(12, row.addresses);
    q.Int(13, seq).Int(14, row.unix_ms);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return absl::NotFoundError(Cat("no wallet ", Clip(row.wallet_id)));
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return absl::InvalidArgumentError(Cat("reconciliation of ", Clip(row.wallet_id), ": state must be ok|mismatch (",
                                            sqlite3_errmsg(connection_->db), ")"));
    }
    return Done(rc, "storing a reconciliation");
  }

  absl::StatusOr<std::vector<ReconciliationRow>> ListReconciliations() override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListReconciliations));
    return Rows<ReconciliationRow>(q, "listing reconciliations", [](const Query& r) -> absl::StatusOr<ReconciliationRow> {
      ReconciliationRow row;
      row.wallet_id = r.ColumnText(0);
      row.asset_id = r.ColumnText(1);
      row.chain = r.ColumnText(2);
      row.height = r.ColumnUint(3);
      row.block_hash = r.ColumnText(4);
      RF_ASSIGN_OR_RETURN(row.chain_balance, r.ColumnAmount(5, "reconciliations"));
      RF_ASSIGN_OR_RETURN(row.ledger_balance, r.ColumnAmount(6, "reconciliations"));
      row.expected = r.ColumnText(7);
      row.difference = r.ColumnText(8);
      row.acknowledged = r.ColumnText(9);
      row.state = r.ColumnText(10);
      row.addresses = r.ColumnText(11);
      row.ledger_seq = r.ColumnUint(12);
      row.unix_ms = r.ColumnInt(13);
      return row;
    });
  }

  absl::Status SetAcknowledgedDifference(const std::string& wallet_id, const std::string& difference) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kSetAcknowledged));
    q.Text(1, wallet_id).Text(2, difference);
    RF_RETURN_IF_ERROR(Done(q.Step(), "acknowledging a difference"));
    if (sqlite3_changes(connection_->db) == 0) {
      return absl::NotFoundError(Cat("wallet ", Clip(wallet_id), " has no reconciliation"));
    }
    return absl::OkStatus();
  }

  absl::Status InsertFreeze(const AssetFreezeRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t height, ToSqlInt(row.height, "height"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertFreeze));
    q.Text(1, row.freeze_id).Text(2, row.asset_id).Text(3, row.reason).Text(4, row.details).Int(5, height);
    q.Text(6, FreezeStateName(row.state)).Int(7, row.approvals_required).Text(8, row.approval_group);
    q.Int(9, row.created_unix_ms).Int(10, row.updated_unix_ms);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
      return absl::AlreadyExistsError(
          Cat("freeze ", Clip(row.freeze_id), ": the id is taken or asset ", Clip(row.asset_id), " is frozen already"));
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return absl::InvalidArgumentError(Cat("freeze ", Clip(row.freeze_id), ": approvals_required must be >= 1 (",
                                            sqlite3_errmsg(connection_->db), ")"));
    }
    return Done(rc, "recording a freeze");
  }

  absl::StatusOr<std::optional<AssetFreezeRow>> GetFreeze(const std::string& freeze_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetFreeze));
    q.Text(1, freeze_id);
    return OneFreeze(q);
  }

  absl::StatusOr<std::optional<AssetFreezeRow>> GetActiveFreeze(const std::string& asset_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetActiveFreeze));
    q.Text(1, asset_id);
    return OneFreeze(q);
  }

  absl::StatusOr<std::vector<AssetFreezeRow>> ListFreezes(bool frozen_only, uint32_t limit) override {
    RF_RETURN_IF_ERROR(Usable());
    if (limit == 0 || limit > 10 * kMaxPageLimit) {
      return absl::InvalidArgumentError(Cat("limit: ", limit, " is outside 1..", 10 * kMaxPageLimit));
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(frozen_only ? kListFrozen : kListFreezes));
    q.Int(1, limit);
    return Rows<AssetFreezeRow>(q, "listing freezes",
                                [](const Query& r) -> absl::StatusOr<AssetFreezeRow> { return ReadFreeze(r); });
  }

  absl::Status LiftFreeze(const std::string& freeze_id, int64_t now_unix_ms) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kLiftFreeze));
    q.Text(1, freeze_id).Int(2, now_unix_ms);
    RF_RETURN_IF_ERROR(Done(q.Step(), "lifting a freeze"));
    if (sqlite3_changes(connection_->db) == 1) return absl::OkStatus();
    RF_ASSIGN_OR_RETURN(std::optional<AssetFreezeRow> row, GetFreeze(freeze_id));
    if (!row) return absl::NotFoundError(Cat("no freeze ", Clip(freeze_id)));
    return absl::FailedPreconditionError(Cat("freeze ", freeze_id, " is ", FreezeStateName(row->state), ", not frozen"));
  }

  absl::StatusOr<bool> InsertUnknownTransfer(const UnknownTransferRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t height, ToSqlInt(row.block_height, "block_height"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertUnknownTransfer));
    q.Text(1, row.chain).Text(2, row.txid).Int(3, row.index).Text(4, row.asset_id).Text(5, row.address);
    q.Text(6, row.wallet_id).Amount(7, row.amount).Int(8, height).Int(9, row.recorded_unix_ms);
    RF_RETURN_IF_ERROR(Done(q.Step(), "recording an unknown transfer"));
    return sqlite3_changes(connection_->db) == 1;
  }

  absl::StatusOr<std::vector<UnknownTransferRow>> ListUnknownTransfers(const std::string& asset_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(asset_id.empty() ? kListAllUnknownTransfers : kListUnknownTransfers));
    if (!asset_id.empty()) q.Text(1, asset_id);
    return Rows<UnknownTransferRow>(q, "listing unknown transfers", [](const Query& r) -> absl::StatusOr<UnknownTransferRow> {
      UnknownTransferRow row;
      row.chain = r.ColumnText(0);
      row.txid = r.ColumnText(1);
      row.index = static_cast<uint32_t>(r.ColumnUint(2));
      row.asset_id = r.ColumnText(3);
      row.address = r.ColumnText(4);
      row.wallet_id = r.ColumnText(5);
      RF_ASSIGN_OR_RETURN(row.amount, r.ColumnAmount(6, "unknown_transfers"));
      row.block_height = r.ColumnUint(7);
      row.acknowledged = r.ColumnInt(8) != 0;
      row.freeze_id = r.ColumnText(9);
      row.recorded_unix_ms = r.ColumnInt(10);
      return row;
    });
  }

  absl::Status AcknowledgeUnknownTransfer(const std::string& chain, const std::string& txid, uint32_t index,
                                          const std::string& freeze_id) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kAckUnknownTransfer));
    q.Text(1, chain).Text(2, txid).Int(3, index).Text(4, freeze_id);
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return absl::NotFoundError(Cat("no freeze ", Clip(freeze_id)));
    RF_RETURN_IF_ERROR(Done(rc, "acknowledging an unknown transfer"));
    if (sqlite3_changes(connection_->db) == 1) return absl::OkStatus();
    RF_ASSIGN_OR_RETURN(std::vector<UnknownTransferRow> all, ListUnknownTransfers(""));
    for (const UnknownTransferRow& t : all) {
      if (t.chain == chain && t.txid == txid && t.index == index) {
        return absl::FailedPreconditionError(
            Cat("unknown transfer ", Clip(txid, 80), ":", index, " is acknowledged already (", t.freeze_id, ")"));
      }
    }
    return absl::NotFoundError(Cat("no unknown transfer ", Clip(txid, 80), ":", index, " on ", Clip(chain)));
  }

  absl::StatusOr<uint64_t> LastWithdrawalEventSeq() override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(uint64_t next, NextId(kNextEventSeq, "withdrawal_events"));
    return next - 1;
  }

  absl::StatusOr<std::vector<WithdrawalRow>> ListOverdueWithdrawals(int64_t now_unix_s, uint32_t limit) override {
    RF_RETURN_IF_ERROR(Usable());
    if (limit == 0 || limit > 10 * kMaxPageLimit) {
      return absl::InvalidArgumentError(Cat("overdue page limit ", limit, " is not in 1..", 10 * kMaxPageLimit));
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListOverdueWithdrawals));
    q.Int(1, now_unix_s).Int(2, limit);
    return Rows<WithdrawalRow>(q, "listing overdue withdrawals", ReadWithdrawal);
  }

  absl::StatusOr<std::vector<WhitelistEntryRow>> ListOverdueWhitelistEntries(int64_t now_unix_s,
                                                                            uint32_t limit) override {
    RF_RETURN_IF_ERROR(Usable());
    if (limit == 0 || limit > 10 * kMaxPageLimit) {
      return absl::InvalidArgumentError(Cat("overdue page limit ", limit, " is not in 1..", 10 * kMaxPageLimit));
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListOverdueWhitelist));
    q.Int(1, now_unix_s).Int(2, limit);
    return Rows<WhitelistEntryRow>(q, "listing overdue whitelist entries", ReadWhitelist);
  }

  // --- holds ---------------------------------------------------------------------------------
  absl::Status InsertHold(const HoldRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertHold));
    q.Text(1, row.withdrawal_id).Text(2, row.client_id).Text(3, row.asset_id).Amount(4, row.amount);
    q.Text(5, HoldStateName(row.state)).Int(6, static_cast<int64_t>(row.placed_seq));
    q.IntOrNull(7, static_cast<int64_t>(row.closed_seq));
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(Cat("withdrawal ", Clip(row.withdrawal_id), " already has a hold"));
    }
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return absl::NotFoundError(Cat("hold of ", Clip(row.withdrawal_id), ": no such withdrawal, client or journal entry"));
    }
    return Done(rc, "inserting a hold");
  }

  absl::StatusOr<std::optional<HoldRow>> GetHold(const std::string& withdrawal_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetHold));
    q.Text(1, withdrawal_id);
    return OneRow<HoldRow>(q, "reading a hold", ReadHold);
  }

  absl::Status CloseHold(const std::string& withdrawal_id, HoldState to, uint64_t closed_seq) override {
    RF_RETURN_IF_ERROR(Writable());
    if (to == HoldState::kHeld || closed_seq == 0) {
      return absl::InvalidArgumentError("a hold is closed as released or settled, by a journal entry");
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kCloseHold));
    q.Text(1, withdrawal_id).Text(2, HoldStateName(to)).Int(3, static_cast<int64_t>(closed_seq));
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return absl::NotFoundError(Cat("no journal entry ", closed_seq));
    RF_RETURN_IF_ERROR(Done(rc, "closing a hold"));
    if (sqlite3_changes(connection_->db) == 0) {
      return absl::FailedPreconditionError(Cat("withdrawal ", Clip(withdrawal_id), " has no open hold"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<HoldRow>> ListOpenHolds() override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListOpenHolds));
    return Rows<HoldRow>(q, "listing open holds", ReadHold);
  }

  // --- approvals -----------------------------------------------------------------------------
  absl::Status InsertApproval(const ApprovalRow& row) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(uint64_t seq, NextId(kNextApprovalSeq, "approvals"));
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertApproval));
    q.Text(1, row.target_id).Text(2, row.target_kind).Text(3, row.approver_id).Blob(4, Bytes(row.signature));
    q.Blob(5, Bytes(row.digest)).Int(6, row.unix_ms).Int(7, static_cast<int64_t>(seq));
    const int rc = q.Step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return absl::AlreadyExistsError(Cat("approver ", Clip(row.approver_id), " already approved ", Clip(row.target_id)));
    }
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return absl::InvalidArgumentError(Cat("approval of ", Clip(row.target_id), ": target_kind must be withdrawal|"
                                            "whitelist_add|asset_freeze, the signature 64 bytes and the digest 32 (",
                                            sqlite3_errmsg(connection_->db), ")"));
    }
    return Done(rc, "recording an approval");
  }

  absl::StatusOr<std::vector<ApprovalRow>> ListApprovals(const std::string& target_id) override {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListApprovals));
    q.Text(1, target_id);
    return Rows<ApprovalRow>(q, "listing approvals", [](const Query& r) -> absl::StatusOr<ApprovalRow> {
      ApprovalRow row;
      row.target_id = r.ColumnText(0);
      row.target_kind = r.ColumnText(1);
      row.approver_id = r.ColumnText(2);
      row.signature = r.ColumnBlobAsString(3);
      row.digest = r.ColumnBlobAsString(4);
      row.unix_ms = r.ColumnInt(5);
      return row;
    });
  }

  // --- the executor --------------------------------------------------------------------------
  absl::StatusOr<std::vector<WithdrawalRow>> ListExecutable(int64_t now_unix_s, uint32_t limit) override {
    RF_RETURN_IF_ERROR(Usable());
    if (limit == 0 || limit > 10 * kMaxPageLimit) {
      return absl::InvalidArgumentError(Cat("executable page limit ", limit, " is not in 1..", 10 * kMaxPageLimit));
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListExecutable));
    q.Int(1, now_unix_s).Int(2, limit);
    return Rows<WithdrawalRow>(q, "listing executable withdrawals", ReadWithdrawal);
  }

  absl::StatusOr<std::vector<std::string>> ListUnfinishedIds(uint32_t limit) override {
    RF_RETURN_IF_ERROR(Usable());
    if (limit == 0 || limit > 10 * kMaxPageLimit) {
      return absl::InvalidArgumentError(Cat("unfinished page limit ", limit, " is not in 1..", 10 * kMaxPageLimit));
    }
    RF_ASSIGN_OR_RETURN(Query q, Statement(kListUnfinishedIds));
    q.Int(1, limit);
    return Rows<std::string>(q, "listing unfinished withdrawals",
                             [](const Query& row) -> absl::StatusOr<std::string> { return row.ColumnText(0); });
  }

  absl::StatusOr<WithdrawalRow> ClaimWithdrawalForSigning(const std::string& withdrawal_id,
                                                          int64_t now_unix_ms) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(std::optional<WithdrawalRow> row, GetWithdrawal(withdrawal_id));
    if (!row) return absl::NotFoundError(Cat("no withdrawal ", Clip(withdrawal_id)));
    if (row->state == WithdrawalState::kApproved && row->not_before_unix_s > now_unix_ms / 1000) {
      return absl::FailedPreconditionError(Cat("withdrawal ", withdrawal_id, " may not proceed before ",
                                               row->not_before_unix_s, " (a policy delay)"));
    }
    constexpr WithdrawalState kFrom[] = {WithdrawalState::kApproved};
    RF_ASSIGN_OR_RETURN(uint64_t seq, TransitionWithdrawal(withdrawal_id, kFrom, WithdrawalState::kSigning, "",
                                                           now_unix_ms));
    row->state = WithdrawalState::kSigning;
    row->reason.clear();
    row->updated_unix_ms = now_unix_ms;
    row->event_seq = seq;
    return *std::move(row);
  }

  absl::Status RecordSigned(const std::string& withdrawal_id, const std::string& txid, const std::string& signed_tx,
                            int64_t now_unix_ms) override {
    RF_RETURN_IF_ERROR(Writable());
    if (txid.empty() || txid.size() > 256 || signed_tx.empty()) {
      return absl::InvalidArgumentError("RecordSigned: txid must be 1..256 bytes and signed_tx non-empty");
    }
    constexpr WithdrawalState kFrom[] = {WithdrawalState::kSigning};
    RF_RETURN_IF_ERROR(TransitionWithdrawal(withdrawal_id, kFrom, WithdrawalState::kSigned, "", now_unix_ms).status());
    RF_ASSIGN_OR_RETURN(Query q, Statement(kSetWithdrawalSigned));
    q.Text(1, withdrawal_id).Text(2, txid).Blob(3, Bytes(signed_tx));
    return Done(q.Step(), "recording a signed withdrawal");
  }

  absl::Status RecordBroadcast(const std::string& withdrawal_id, int64_t now_unix_ms) override {
    RF_RETURN_IF_ERROR(Writable());
    constexpr WithdrawalState kFrom[] = {WithdrawalState::kSigned};
    return TransitionWithdrawal(withdrawal_id, kFrom, WithdrawalState::kBroadcast, "", now_unix_ms).status();
  }

  absl::Status SettleWithdrawal(const std::string& withdrawal_id, Amount network_fee, uint64_t confirmed_height,
                                uint64_t settle_seq, int64_t now_unix_ms) override {
    RF_RETURN_IF_ERROR(Writable());
    RF_ASSIGN_OR_RETURN(int64_t height, ToSqlInt(confirmed_height, "confirmed_height"));
    constexpr WithdrawalState kFrom[] = {WithdrawalState::kBroadcast};
    RF_RETURN_IF_ERROR(
        TransitionWithdrawal(withdrawal_id, kFrom, WithdrawalState::kConfirmed, "", now_unix_ms).status());
    {
      RF_ASSIGN_OR_RETURN(Query q, Statement(kSetWithdrawalSettled));
      q.Text(1, withdrawal_id).Amount(2, network_fee).Int(3, height);
      RF_RETURN_IF_ERROR(Done(q.Step(), "recording a settled withdrawal"));
    }
    RF_ASSIGN_OR_RETURN(const bool held, HasHold(withdrawal_id));
    return held ? CloseHold(withdrawal_id, HoldState::kSettled, settle_seq) : absl::OkStatus();
  }

  absl::Status FailWithdrawal(const std::string& withdrawal_id, const std::string& reason, uint64_t release_seq,
                              int64_t now_unix_ms) override {
    RF_RETURN_IF_ERROR(Writable());
    if (reason.empty()) return absl::InvalidArgumentError("FailWithdrawal: a failure needs a reason");
    constexpr WithdrawalState kFrom[] = {WithdrawalState::kSigning, WithdrawalState::kSigned,
                                         WithdrawalState::kBroadcast};
    RF_RETURN_IF_ERROR(TransitionWithdrawal(withdrawal_id, kFrom, WithdrawalState::kFailed, reason, now_unix_ms).status());
    RF_ASSIGN_OR_RETURN(const bool held, HasHold(withdrawal_id));
    return held ? CloseHold(withdrawal_id, HoldState::kReleased, release_seq) : absl::OkStatus();
  }

 private:
  // A client's withdrawal reserved its amount with a hold; an internal move (a sweep) has none.
  absl::StatusOr<bool> HasHold(const std::string& withdrawal_id) {
    RF_ASSIGN_OR_RETURN(std::optional<WithdrawalRow> row, GetWithdrawal(withdrawal_id));
    if (!row) return absl::NotFoundError(Cat("no withdrawal ", Clip(withdrawal_id)));
    return !IsInternalMove(*row);
  }

  // The next id of a table whose ids are max + 1 (the writer lock makes that safe here; a
  // server database uses a sequence).
  absl::StatusOr<uint64_t> NextId(Sql id, std::string_view table) {
    RF_ASSIGN_OR_RETURN(Query q, Statement(id));
    const int rc = q.Step();
    if (rc != SQLITE_ROW) return Fail(rc, Cat("reading the next id of ", table));
    return q.ColumnUint(0);
  }

  absl::Status InsertEvent(uint64_t seq, const std::string& withdrawal_id, const std::string& client_id,
                           WithdrawalState state, const std::string& reason, int64_t unix_ms) {
    RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertEvent));
    q.Int(1, static_cast<int64_t>(seq)).Text(2, withdrawal_id).Text(3, client_id).Text(4, WithdrawalStateName(state));
    q.Text(5, reason).Int(6, unix_ms);
    return Done(q.Step(), "appending a withdrawal event");
  }

  template <typename Row, typename Reader>
  absl::StatusOr<std::optional<Row>> OneRow(Query& q, std::string_view what, Reader read) {
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<Row>();
    if (rc != SQLITE_ROW) return Fail(rc, what);
    RF_ASSIGN_OR_RETURN(Row row, read(q));
    return std::optional<Row>(std::move(row));
  }

  template <typename Row, typename Reader>
  absl::StatusOr<std::vector<Row>> Rows(Query& q, std::string_view what, Reader read) {
    std::vector<Row> rows;
    RF_RETURN_IF_ERROR(EachRow(q, what, [&]() -> absl::Status {
      RF_ASSIGN_OR_RETURN(Row row, read(q));
      rows.push_back(std::move(row));
      return absl::OkStatus();
    }));
    return rows;
  }

  absl::StatusOr<Query> Statement(Sql id) {
    RF_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, connection_->Prepare(id));
    return Query(connection_->db, stmt);
  }

  absl::Status StepStatement(Sql id, std::string_view what) {
    RF_ASSIGN_OR_RETURN(Query q, Statement(id));
    return Done(q.Step(), what);
  }

  // Writer, writer_mu_ held: joins the open batch, or opens one (BEGIN IMMEDIATE) if there is
  // none, and sets this member's savepoint. On an error nothing is open for this Txn.
  absl::Status StartMember() {
    sqlite3* db = connection_->db;
    std::shared_ptr<SqliteStore::Batch> batch = store_->OpenBatch();
    if (batch != nullptr && sqlite3_get_autocommit(db)) {
      // SQLite ended the batch's transaction under an earlier member (an I/O or disk error
      // rolls the whole transaction back): the members waiting for it learn that nothing of
      // theirs was written.
      store_->FinishBatch(batch, BatchLost());
      batch = nullptr;
    }
    if (batch != nullptr && large_) {
      // A large member does not join: the batch left open for it is committed now (its
      // members, waiting in AwaitBatch, learn the outcome), and it opens its own below.
      store_->FinishBatch(batch, CommitOnConnection());
      batch = nullptr;
    }
    if (batch == nullptr) {
      if (!sqlite3_get_autocommit(db)) {
        // Left open by a failed rollback of an earlier Txn: end it before starting ours.
        Exec(db, "ROLLBACK", "rolling back a transaction left open").IgnoreError();
      }
      RF_ASSIGN_OR_RETURN(Query begin, Statement(kBeginWrite));
      const int rc = begin.Step();
      if (rc != SQLITE_DONE) {
        ended_ = true;
        return SqlStatus(db, rc, "starting a write transaction");
      }
      batch = store_->NewBatch();
      // The member that opens the batch is alone in it: the batch's transaction is its
      // transaction, and rolling it back takes nothing else. It sets no savepoint, which
      // matters for size: inside a savepoint SQLite keeps every page the member changes in
      // its in-memory statement journal, and walks that journal from its start each time
      // a statement ends, so a member of n statements would cost O(n^2).
      batch_ = std::move(batch);
      member_ = true;
      savepoint_ = false;
      return absl::OkStatus();
    }
    batch_ = std::move(batch);
    member_ = true;
    savepoint_ = true;
    RF_ASSIGN_OR_RETURN(Query savepoint, Statement(kMemberSavepoint));
    const int rc = savepoint.Step();
    if (rc != SQLITE_DONE) {
      absl::Status status = SqlStatus(db, rc, "starting a write transaction (savepoint)");
      savepoint.Reset();
      EndMember(/*keep=*/false).IgnoreError();
      ended_ = true;
      return status;
    }
    return absl::OkStatus();
  }

  // Writer: ends this member, keeping its writes in the batch (`keep`) or rolling them back.
  // Then, holding the writer, commits the batch if no other writer is waiting for it (or the
  // batch is full or old), else leaves it open for the next one, and gives the writer back.
  // For a kept member returns once the batch is committed: OK, or why nothing of it was
  // written. For a member rolled back, OK unless even the rollback failed.
  absl::Status EndMember(bool keep) {
    sqlite3* db = connection_->db;
    member_ = false;
    std::shared_ptr<SqliteStore::Batch> batch = std::move(batch_);
    absl::Status mine = absl::OkStatus();
    if (!sqlite3_get_autocommit(db) && keep && savepoint_) {
      auto release = Statement(kMemberRelease);
      const int rc = release.ok() ? release->Step() : SQLITE_ERROR;
      if (rc != SQLITE_DONE) {
        mine = release.ok() ? SqlStatus(db, rc, "committing (releasing the savepoint)") : release.status();
        if (release.ok()) release->Reset();
        keep = false;
      }
    }
    if (!sqlite3_get_autocommit(db) && !keep && savepoint_) {
      // (A member without a savepoint opened the batch: nothing else is in it, and the
      // empty batch is rolled back whole below.)
      for (Sql undo : {kMemberRollback, kMemberRelease}) {
        auto q = Statement(undo);
        if (!q.ok() || q->Step() != SQLITE_DONE) mine.Update(absl::InternalError("rolling back a savepoint failed"));
      }
    }
    if (sqlite3_get_autocommit(db)) {
      // The batch's transaction is gone (see StartMember): nothing of any member was written.
      store_->FinishBatch(batch, BatchLost());
      Release();
      return keep ? BatchLost() : mine;
    }
    if (keep) ++batch->members;
    if (batch->members == 0) {
      // Nothing kept: end the empty transaction now rather than hold the database's write lock.
      auto rollback = Statement(kRollback);
      if (rollback.ok()) {
        rollback->Step();
        rollback->Reset();
      }
      if (!sqlite3_get_autocommit(db)) Exec(db, "ROLLBACK", "rolling back an empty batch").IgnoreError();
      store_->FinishBatch(batch, absl::OkStatus());
      Release();
      return mine;
    }
    if (!store_->ShouldCommit(*batch)) {
      Release();  // the next writer goes on with the batch, and one of them commits it
      return keep ? store_->AwaitBatch(batch) : mine;
    }
    absl::Status committed = CommitOnConnection();
    store_->FinishBatch(batch, committed);
    Release();
    return keep ? committed : mine;
  }

  absl::Status CommitOnConnection() { return CommitConnection(*connection_); }

  // Gives the connection back once the transaction has ended: a committed Txn that its owner
  // keeps alive must not hold up the next writer or reader.
  void Release() {
    if (reader_ != nullptr) store_->ReturnReader(std::move(reader_));
    if (writer_lock_.owns_lock()) writer_lock_.unlock();
  }

  absl::Status Usable() const {
    if (ended_) return absl::FailedPreconditionError("the transaction has ended");
    if (broken_) {
      return absl::AbortedError("the transaction was rolled back by an earlier error; start a new one");
    }
    return absl::OkStatus();
  }

  absl::Status Writable() const {
    RF_RETURN_IF_ERROR(Usable());
    if (!writable_) return absl::FailedPreconditionError("a read-only transaction cannot write or lock");
    return absl::OkStatus();
  }

  // The status for a failed step. If SQLite rolled the whole transaction back (I/O errors, a
  // full disk, lost locks), the Txn refuses further use; a failed statement that SQLite undid
  // on its own (a constraint) leaves the transaction usable.
  absl::Status Fail(int rc, std::string_view what) {
    absl::Status status = SqlStatus(connection_->db, rc, what);
    if (sqlite3_get_autocommit(connection_->db)) broken_ = true;
    return status;
  }

  absl::Status Done(int rc, std::string_view what) {
    if (rc == SQLITE_DONE) return absl::OkStatus();
    return Fail(rc, what);
  }

  // Runs `q` to the end, calling `on_row` for each row.
  template <typename OnRow>
  absl::Status EachRow(Query& q, std::string_view what, OnRow on_row) {
    for (;;) {
      const int rc = q.Step();
      if (rc == SQLITE_DONE) return absl::OkStatus();
      if (rc != SQLITE_ROW) return Fail(rc, what);
      RF_RETURN_IF_ERROR(on_row());
    }
  }

  absl::StatusOr<std::optional<ClientRow>> OneClient(Sql id, const std::string& key) {
    RF_RETURN_IF_ERROR(Usable());
    RF_ASSIGN_OR_RETURN(Query q, Statement(id));
    q.Text(1, key);
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<ClientRow>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading a client");
    RF_ASSIGN_OR_RETURN(ClientRow row, ReadClient(q));
    return std::optional<ClientRow>(std::move(row));
  }

  absl::StatusOr<std::optional<ChainBlockRow>> OneBlock(Query& q, const std::string& chain) {
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<ChainBlockRow>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading a chain block");
    ChainBlockRow row;
    row.chain = chain;
    row.height = q.ColumnUint(0);
    row.hash = q.ColumnText(1);
    row.parent_hash = q.ColumnText(2);
    return std::optional<ChainBlockRow>(std::move(row));
  }

  static AssetFreezeRow ReadFreeze(const Query& q) {
    AssetFreezeRow row;
    row.freeze_id = q.ColumnText(0);
    row.asset_id = q.ColumnText(1);
    row.reason = q.ColumnText(2);
    row.details = q.ColumnText(3);
    row.height = q.ColumnUint(4);
    row.state = q.ColumnText(5) == "lifted" ? FreezeState::kLifted : FreezeState::kFrozen;
    row.approvals_required = static_cast<uint32_t>(q.ColumnUint(6));
    row.approval_group = q.ColumnText(7);
    row.created_unix_ms = q.ColumnInt(8);
    row.updated_unix_ms = q.ColumnInt(9);
    return row;
  }

  absl::StatusOr<std::optional<AssetFreezeRow>> OneFreeze(Query& q) {
    const int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<AssetFreezeRow>();
    if (rc != SQLITE_ROW) return Fail(rc, "reading a freeze");
    return std::optional<AssetFreezeRow>(ReadFreeze(q));
  }

  absl::StatusOr<std::vector<DepositRow>> Deposits(Query& q) {
    std::vector<DepositRow> rows;
    RF_RETURN_IF_ERROR(EachRow(q, "listing deposits", [&]() -> absl::Status {
      RF_ASSIGN_OR_RETURN(DepositRow row, ReadDeposit(q));
      rows.push_back(std::move(row));
      return absl::OkStatus();
    }));
    return rows;
  }

  absl::StatusOr<AccountBalance> ReadBalance(const std::string& account) {
    RF_ASSIGN_OR_RETURN(Query q, Statement(kGetBalance));
    q.Text(1, account);
    const int rc = q.Step();
    AccountBalance balance;
    if (rc == SQLITE_DONE) return balance;
    if (rc != SQLITE_ROW) return Fail(rc, "reading a balance");
    RF_ASSIGN_OR_RETURN(balance.debits, q.ColumnAmount(0, "balances"));
    RF_ASSIGN_OR_RETURN(balance.credits, q.ColumnAmount(1, "balances"));
    return balance;
  }

  // Inserts the entries' journal and posting rows, then writes each touched balance once:
  // its stored running totals plus the postings on it (summed per account first, so that a
  // block of deposits to one wallet rewrites the wallet's row once, not once per deposit).
  // Returns the first entry's seq.
  absl::StatusOr<uint64_t> AppendJournalInSavepoint(std::span<const JournalEntry> entries) {
    uint64_t first = 0;
    {
      RF_ASSIGN_OR_RETURN(Query q, Statement(kLastJournalSeq));
      const int rc = q.Step();
      if (rc != SQLITE_ROW) return Fail(rc, "reading the last journal seq");
      first = q.ColumnUint(0) + 1;
    }
    std::map<std::string_view, AccountBalance> movements;  // per account: the entries' debits and credits
    uint64_t seq = first;
    for (const JournalEntry& entry : entries) {
      RF_ASSIGN_OR_RETURN(int64_t sql_seq, ToSqlInt(seq, "journal seq"));
      {
        RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertJournal));
        q.Int(1, sql_seq).Text(2, entry.asset_id).Text(3, entry.kind).Text(4, entry.reference);
        q.Int(5, entry.created_unix_ms);
        RF_RETURN_IF_ERROR(Done(q.Step(), "appending a journal entry"));
      }
      for (size_t i = 0; i < entry.postings.size(); ++i) {
        const Posting& p = entry.postings[i];
        {
          RF_ASSIGN_OR_RETURN(Query q, Statement(kInsertPosting));
          q.Int(1, sql_seq).Int(2, static_cast<int64_t>(i)).Text(3, p.account);
          q.Int(4, p.debit ? 1 : 0).Amount(5, p.amount);
          RF_RETURN_IF_ERROR(Done(q.Step(), "appending a posting"));
        }
        AccountBalance& m = movements[p.account];
        Amount& side = p.debit ? m.debits : m.credits;
        const std::optional<Amount> sum = side.CheckedAdd(p.amount);
        RF_CHECK(sum.has_value(), Cat("account ", Clip(p.account, 100),
                                      " overflows 2^128 - 1; the ledger must refuse this entry before it gets here"));
        side = *sum;
      }
      ++seq;
    }
    for (const auto& [account, movement] : movements) {
      const std::string name(account);
      RF_ASSIGN_OR_RETURN(AccountBalance balance, ReadBalance(name));
      const std::optional<Amount> debits = balance.debits.CheckedAdd(movement.debits);
      const std::optional<Amount> credits = balance.credits.CheckedAdd(movement.credits);
      RF_CHECK(debits.has_value() && credits.has_value(),
               Cat("account ", Clip(name, 100),
                   " overflows 2^128 - 1; the ledger must refuse this entry before it gets here"));
      RF_ASSIGN_OR_RETURN(Query q, Statement(kPutBalance));
      q.Text(1, name).Amount(2, *debits).Amount(3, *credits);
      RF_RETURN_IF_ERROR(Done(q.Step(), "updating a balance"));
    }
    return first;
  }

  // Groups joined journal/posting rows (seq, asset, kind, reference, time, account, debit,
  // amount; ordered by seq, idx) into entries.
  absl::Status ReadEntries(Query& q, std::vector<JournalEntry>* out) {
    return EachRow(q, "reading the journal", [&]() -> absl::Status {
      const uint64_t seq = q.ColumnUint(0);
      if (out->empty() || out->back().seq != seq) {
        JournalEntry entry;
        entry.seq = seq;
        entry.asset_id = q.ColumnText(1);
        entry.kind = q.ColumnText(2);
        entry.reference = q.ColumnText(3);
        entry.created_unix_ms = q.ColumnInt(4);
        out->push_back(std::move(entry));
      }
      Posting p;
      p.account = q.ColumnText(5);
      p.debit = q.ColumnInt(6) != 0;
      RF_ASSIGN_OR_RETURN(p.amount, q.ColumnAmount(7, "postings"));
      out->back().postings.push_back(std::move(p));
      return absl::OkStatus();
    });
  }

  absl::StatusOr<JournalEntry> LoadEntry(uint64_t seq) {
    RF_ASSIGN_OR_RETURN(Query q, Statement(kEntryBySeq));
    q.Int(1, static_cast<int64_t>(seq));
    std::vector<JournalEntry> entries;
    RF_RETURN_IF_ERROR(ReadEntries(q, &entries));
    if (entries.size() != 1) return absl::DataLossError(Cat("journal entry ", seq, " has no postings"));
    return std::move(entries.front());
  }

  internal::Connection* const connection_;
  const bool writable_;
  const bool large_ = false;  // writer: opens a batch of its own (BeginLarge)
  std::unique_lock<std::timed_mutex> writer_lock_;
  SqliteStore* store_ = nullptr;
  std::unique_ptr<internal::Connection> reader_;
  std::shared_ptr<SqliteStore::Batch> batch_;  // writer: the batch this member belongs to
  bool member_ = false;                        // writer: a member of batch_, not yet ended
  bool savepoint_ = false;                     // writer: the member runs in a savepoint
  bool ended_ = false;
  bool broken_ = false;
};

namespace {

absl::Status MigrateSteps(sqlite3* db);
absl::Status ForeignKeysHold(sqlite3* db, const std::string& during);

// Migrations run with foreign keys off (a table rebuild drops and renames a table others
// refer to; SQLite ignores the pragma inside a transaction, so it is set around them), and
// each checks them itself before its commit (MigrateSteps). They are on again afterwards,
// whatever happened.
absl::Status Migrate(sqlite3* db) {
  RF_RETURN_IF_ERROR(Exec(db, "PRAGMA foreign_keys = OFF", "turning foreign keys off for migrations"));
  absl::Status migrated = MigrateSteps(db);
  absl::Status on = Exec(db, "PRAGMA foreign_keys = ON", "turning foreign keys on after migrations");
  return migrated.ok() ? on : migrated;
}

absl::Status MigrateSteps(sqlite3* db) {
  for (;;) {
    RF_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", "starting a schema migration"));
    // Rolls back unless committed below, so that a migration applies whole or not at all.
    auto rollback = [db] { Exec(db, "ROLLBACK", "rolling back a schema migration").IgnoreError(); };
    absl::Status st = Exec(db,
                           "CREATE TABLE IF NOT EXISTS schema_version ("
                           " id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),"
                           " version INTEGER NOT NULL CHECK (version >= 0)) STRICT",
                           "creating schema_version");
    if (!st.ok()) {
      rollback();
      return st;
    }
    int64_t version = 0;
    {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v2(db, "SELECT version FROM schema_version WHERE id = 1", -1, &stmt, nullptr);
      if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) version = sqlite3_column_int64(stmt, 0);
      }
      absl::Status read = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? absl::OkStatus()
                                                                 : SqlStatus(db, rc, "reading schema_version");
      sqlite3_finalize(stmt);
      if (!read.ok()) {
        rollback();
        return read;
      }
    }
    if (version > kLatestVersion) {
      rollback();
      return absl::FailedPreconditionError(
          Cat("the database schema is version ", version, ", newer than this custodyd knows (", kLatestVersion,
              "); run a newer custodyd"));
    }
    if (version == kLatestVersion) {
      return Exec(db, "COMMIT", "finishing the schema check");
    }
    st = Exec(db, kMigrations[version], Cat("schema migration ", version + 1));
    if (st.ok()) st = ForeignKeysHold(db, Cat("schema migration ", version + 1));
    if (st.ok()) {
      const std::string bump =
          Cat("INSERT INTO schema_version (id, version) VALUES (1, ", version + 1,
              ") ON CONFLICT (id) DO UPDATE SET version = excluded.version");
      st = Exec(db, bump.c_str(), "recording the schema version");
    }
    if (st.ok()) st = Exec(db, "COMMIT", Cat("committing schema migration ", version + 1));
    if (!st.ok()) {
      if (!sqlite3_get_autocommit(db)) rollback();
      return absl::InternalError(st.message());
    }
  }
}

// DATA_LOSS naming the first row PRAGMA foreign_key_check reports, if any.
absl::Status ForeignKeysHold(sqlite3* db, const std::string& during) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &stmt, nullptr);
  std::string broken;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      const auto* table = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      const auto* parent = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2));
      broken = Cat("a row of ", table == nullptr ? "?" : table, " refers to a missing ", parent == nullptr ? "?" : parent,
                   " row");
    }
  }
  absl::Status read = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? absl::OkStatus() : SqlStatus(db, rc, "checking foreign keys");
  sqlite3_finalize(stmt);
  RF_RETURN_IF_ERROR(read);
  if (!broken.empty()) return absl::DataLossError(Cat(during, ": ", broken));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> PragmaInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  int64_t value = -1;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  }
  absl::Status status = rc == SQLITE_ROW ? absl::OkStatus() : SqlStatus(db, rc, sql);
  sqlite3_finalize(stmt);
  if (!status.ok()) return status;
  return value;
}

}  // namespace

int SqliteStore::LatestSchemaVersion() { return kLatestVersion; }

SqliteStore::SqliteStore(std::string path, SqliteStoreOptions options)
    : path_(std::move(path)), options_(options) {}

SqliteStore::~SqliteStore() = default;

absl::StatusOr<std::unique_ptr<internal::Connection>> SqliteStore::OpenConnection(bool read_only) {
  auto connection = std::make_unique<internal::Connection>();
  connection->read_only = read_only;
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path_.c_str(), &connection->db, flags,
                                 options_.vfs.empty() ? nullptr : options_.vfs.c_str());
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(Cat("opening the custody database ", Clip(path_, 200), ": ",
                                      connection->db != nullptr ? sqlite3_errmsg(connection->db)
                                                                : sqlite3_errstr(rc)));
  }
  sqlite3* db = connection->db;
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options_.busy_timeout_ms);
  auto unavailable = [this](const absl::Status& s) {
    return absl::UnavailableError(Cat("opening the custody database ", Clip(path_, 200), ": ", s.message()));
  };
  if (!read_only) {
    // journal_mode=WAL is stored in the file; reading it back tells us the filesystem took it.
    sqlite3_stmt* stmt = nullptr;
    std::string mode;
    int step = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, nullptr);
    if (step == SQLITE_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      mode = text != nullptr ? text : "";
    }
    absl::Status status = step == SQLITE_ROW ? absl::OkStatus() : SqlStatus(db, step, "setting journal_mode");
    sqlite3_finalize(stmt);
    if (!status.ok()) return unavailable(status);
    if (mode != "wal") {
      return absl::UnavailableError(Cat("opening the custody database ", Clip(path_, 200),
                                        ": the filesystem refused WAL mode (journal_mode is ", Clip(mode), ")"));
    }
  }
  // Per connection: FULL makes every commit fsync the WAL (nothing acknowledged is lost);
  // foreign keys are off by default in SQLite.
  RF_RETURN_IF_ERROR(Exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", "setting pragmas"));
  if (!read_only) {
    // A block's deposits are one transaction of a few megabytes; with SQLite's default 2 MiB
    // page cache the writer spills dirty pages into the WAL mid-transaction (extra writes and
    // syncs). The WAL is checkpointed every 8,192 pages (32 MiB) rather than every 1,000,
    // so that pages rewritten by successive commits (balances, index pages) reach the database
    // file once per checkpoint. Neither changes what a commit makes durable.
    RF_RETURN_IF_ERROR(Exec(db, kWriterPragmas, "setting the writer's cache and checkpoint pragmas"));
  }
  absl::StatusOr<int64_t> synchronous = PragmaInt(db, "PRAGMA synchronous");
  if (!synchronous.ok()) return unavailable(synchronous.status());
  absl::StatusOr<int64_t> foreign_keys = PragmaInt(db, "PRAGMA foreign_keys");
  if (!foreign_keys.ok()) return unavailable(foreign_keys.status());
  RF_CHECK(*synchronous == 2 && *foreign_keys == 1, "SQLite did not take synchronous=FULL and foreign_keys=ON");
  return connection;
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, SqliteStoreOptions options) {
  if (sqlite3_threadsafe() == 0) {
    return absl::FailedPreconditionError("this SQLite library was built without thread support");
  }
  if (options.busy_timeout_ms < 0 || options.max_readers < 1 || options.max_batch_age_ms < 0) {
    return absl::InvalidArgumentError(
        "SqliteStoreOptions: busy_timeout_ms and max_batch_age_ms must be >= 0, max_readers >= 1");
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, options));
  RF_ASSIGN_OR_RETURN(store->writer_, store->OpenConnection(/*read_only=*/false));
  absl::Status migrated = Migrate(store->writer_->db);
  if (!migrated.ok()) {
    if (migrated.code() == absl::StatusCode::kDataLoss) {
      return absl::UnavailableError(Cat("opening the custody database ", Clip(path, 200), ": ", migrated.message()));
    }
    return migrated;
  }
  return store;
}

absl::StatusOr<std::unique_ptr<Txn>> SqliteStore::Begin() { return BeginWriter(/*large=*/false); }

absl::StatusOr<std::unique_ptr<Txn>> SqliteStore::BeginLarge() { return BeginWriter(/*large=*/true); }

absl::StatusOr<std::unique_ptr<Txn>> SqliteStore::BeginWriter(bool large) {
  std::unique_lock<std::timed_mutex> lock(writer_mu_, std::defer_lock);
  // Counted while waiting: a member ending meanwhile leaves the batch open for this writer.
  writers_waiting_.fetch_add(1);
  const bool locked = lock.try_lock_for(std::chrono::milliseconds(options_.busy_timeout_ms));
  writers_waiting_.fetch_sub(1);
  if (!locked) {
    return absl::AbortedError(
        Cat("waited ", options_.busy_timeout_ms, " ms for the database writer; retry"));
  }
  auto txn = std::make_unique<SqliteTxn>(this, writer_.get(), std::move(lock), large);
  RF_RETURN_IF_ERROR(txn->Start());
  return txn;
}

absl::StatusOr<std::unique_ptr<Txn>> SqliteStore::BeginRead() {
  std::unique_ptr<internal::Connection> connection;
  {
    std::unique_lock<std::mutex> lock(readers_mu_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
    while (idle_readers_.empty() && open_readers_ >= options_.max_readers) {
      if (reader_returned_.wait_until(lock, deadline) == std::cv_status::timeout &&
          idle_readers_.empty() && open_readers_ >= options_.max_readers) {
        return absl::AbortedError(Cat("all ", options_.max_readers, " read connections stayed busy; retry"));
      }
    }
    if (!idle_readers_.empty()) {
      connection = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    } else {
      ++open_readers_;  // reserve the slot; opened below without the lock
    }
  }
  if (connection == nullptr) {
    absl::StatusOr<std::unique_ptr<internal::Connection>> opened = OpenConnection(/*read_only=*/true);
    if (!opened.ok()) {
      std::lock_guard<std::mutex> lock(readers_mu_);
      --open_readers_;
      reader_returned_.notify_one();
      return opened.status();
    }
    connection = *std::move(opened);
  }
  auto txn = std::make_unique<SqliteTxn>(this, std::move(connection));
  RF_RETURN_IF_ERROR(txn->Start());
  return txn;
}

std::shared_ptr<SqliteStore::Batch> SqliteStore::OpenBatch() {
  std::lock_guard<std::mutex> lock(batch_mu_);
  return batch_;
}

std::shared_ptr<SqliteStore::Batch> SqliteStore::NewBatch() {
  auto batch = std::make_shared<Batch>();
  batch->opened = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(batch_mu_);
  batch_ = batch;
  return batch;
}

bool SqliteStore::ShouldCommit(const Batch& batch) const {
  return writers_waiting_.load() == 0 || batch.members >= kMaxBatchMembers ||
         std::chrono::steady_clock::now() - batch.opened >= std::chrono::milliseconds(options_.max_batch_age_ms);
}

void SqliteStore::FinishBatch(const std::shared_ptr<Batch>& batch, const absl::Status& status) {
  {
    std::lock_guard<std::mutex> lock(batch_mu_);
    if (batch_ == batch) batch_ = nullptr;
    if (batch->done) return;
    batch->done = true;
    batch->status = status;
    if (status.ok() && batch->members > 0) {
      ++stats_.commits;
      stats_.transactions += static_cast<uint64_t>(batch->members);
    }
  }
  batch_done_.notify_all();
}

absl::Status SqliteStore::AwaitBatch(const std::shared_ptr<Batch>& batch) {
  std::unique_lock<std::mutex> lock(batch_mu_);
  while (!batch->done) {
    if (batch_done_.wait_for(lock, kBatchPoll, [&] { return batch->done; })) break;
    // The writer that was waiting when this member ended may have given up (busy timeout)
    // instead of taking the batch over: if the writer is free and the batch still open,
    // commit it here, so that no member waits on a writer that never comes.
    lock.unlock();
    // Not while a writer still waits: it may only be about to take the writer over, and the
    // batch is then its to carry on (committing under it would only split the batch).
    std::unique_lock<std::timed_mutex> writer(writer_mu_, std::try_to_lock);
    if (writer.owns_lock() && writers_waiting_.load() == 0 && OpenBatch() == batch) {
      FinishBatch(batch, CommitConnection(*writer_));
    }
    if (writer.owns_lock()) writer.unlock();
    lock.lock();
  }
  return batch->status;
}

SqliteStore::GroupCommitStats SqliteStore::group_commit_stats() const {
  std::lock_guard<std::mutex> lock(batch_mu_);
  return stats_;
}

void SqliteStore::ReturnReader(std::unique_ptr<internal::Connection> connection) {
  std::lock_guard<std::mutex> lock(readers_mu_);
  idle_readers_.push_back(std::move(connection));
  reader_returned_.notify_one();
}

}  // namespace ringfence::custody::store
