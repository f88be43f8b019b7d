// Calls and signed extrinsics (format version 4), built from the runtime's metadata.
//
// A call is the pallet's index, the call's variant index and its arguments, all looked
// up by name. A signed extrinsic is
//   compact(length) ++ 0x84 ++ address ++ signature ++ extensions ++ call
// where the signature is ed25519 over the signing payload
//   call ++ extensions ++ implicit data of the extensions (spec and transaction version,
//   genesis hash, era birth block hash, metadata hash option …)
// hashed with BLAKE2b-256 first when it is longer than 256 bytes. The extensions and
// their order come from the metadata; each one is encoded by identifier, and an unknown
// one is accepted only when it carries no data.
#pragma once

#include <string_view>

#include "chain-bridge/substrate/value.h"
#include "core/identity.h"

namespace tessera::substrate {

// What the implicit data of the extensions refers to.
struct RuntimeVersion {
  std::uint32_t spec_version = 0;
  std::uint32_t transaction_version = 0;
  std::string spec_name;
};

// Transaction lifetime: immortal, or valid for `period` blocks (a power of two, 4..65536)
// from the block it was built at.
struct Era {
  bool immortal = true;
  std::uint64_t period = 0;
  std::uint64_t phase = 0;
  static Era Immortal() { return {}; }
  // `period` is rounded up to a power of two and clamped to 4..65536.
  static Era Mortal(std::uint64_t period, std::uint64_t current_block);
  Bytes encode() const;
  // The block whose hash the signature commits to (the era's birth), for a mortal era
  // built at `current_block`.
  std::uint64_t birth(std::uint64_t current_block) const;
};

struct SignOptions {
  std::uint64_t nonce = 0;
  u128 tip = 0;
  Era era;
  Bytes era_block_hash;  // the hash of era.birth(); the genesis hash for immortal eras
};

struct ChainIdentity {
  Bytes genesis_hash;
  RuntimeVersion version;
};

// pallet index ++ call index ++ arguments ({"arg": value} by name, or an array in order).
Result<Bytes> encode_call(const Metadata& md, std::string_view pallet, std::string_view call, const json& args);

// The bytes that get signed (already hashed when over 256 bytes).
Result<Bytes> signing_payload(const Metadata& md, std::span<const std::uint8_t> call, const ChainIdentity& chain,
                              const SignOptions& options);

// A complete, length-prefixed, ed25519-signed extrinsic, ready for author_submitExtrinsic.
Result<Bytes> sign_extrinsic(const Metadata& md, std::span<const std::uint8_t> call, const Keypair& signer,
                             const ChainIdentity& chain, const SignOptions& options);

// BLAKE2b-256 of an encoded extrinsic: the hash the node reports for it.
Bytes extrinsic_hash(std::span<const std::uint8_t> extrinsic);

}  // namespace tessera::substrate
