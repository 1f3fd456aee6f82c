// Package witness implements transparency-log witnessing as the C2SP
// specifications define it, for Holdfast's tenant logs:
//
//   - c2sp.org/tlog-cosignature: Ed25519 cosignature/v1 note signatures,
//     their keys (signer keys and vkeys of type 0x04) and their verifiers;
//   - c2sp.org/tlog-witness: the add-checkpoint protocol, a Server that
//     cosigns a log's checkpoint only when it is a consistent extension of
//     the last one it cosigned for that log (kept durably, per origin), and
//     a client, Submit, with which a log asks for cosignatures.
//
// A witness run by an auditor, the customer or another MSP makes a rolled-
// back or forked tenant log visible to anyone who checks a checkpoint's
// cosignatures: the witness never cosigns two histories of one log.
package witness
