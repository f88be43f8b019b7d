#include "chain-bridge/substrate/extrinsic.h"

#include <bit>

namespace tessera::substrate {
namespace {

// The explicit part (carried in the extrinsic) and the implicit part (signed only) of
// each extension, appended in the metadata's order.
Status encode_extensions(const Metadata& md, const ChainIdentity& chain, const SignOptions& o, Encoder& explicit_part,
                         Encoder& implicit_part) {
  if (chain.genesis_hash.size() != 32) return InvalidArgument("genesis hash must be 32 bytes");
  for (const auto& ext : md.extensions) {
    const std::string& id = ext.identifier;
    if (id == "CheckSpecVersion") {
      implicit_part.u32(chain.version.spec_version);
    } else if (id == "CheckTxVersion") {
      implicit_part.u32(chain.version.transaction_version);
    } else if (id == "CheckGenesis") {
      implicit_part.raw(chain.genesis_hash);
    } else if (id == "CheckMortality" || id == "CheckEra") {
      explicit_part.raw(o.era.encode());
      const Bytes& block = o.era.immortal ? chain.genesis_hash : o.era_block_hash;
      if (block.size() != 32) return InvalidArgument("a mortal era needs the 32-byte hash of its birth block");
      implicit_part.raw(block);
    } else if (id == "CheckNonce") {
      explicit_part.compact(o.nonce);
    } else if (id == "ChargeTransactionPayment") {
      explicit_part.compact(o.tip);
    } else if (id == "ChargeAssetTxPayment") {
      explicit_part.compact(o.tip).u8(0);  // no asset: pay in the native token
    } else if (id == "CheckMetadataHash") {
      explicit_part.u8(0);    // mode: disabled
      implicit_part.u8(0);    // Option<[u8; 32]>: None
    } else if (zero_sized(md, ext.type) && zero_sized(md, ext.implicit)) {
      // CheckNonZeroSender, CheckWeight, and runtime-specific markers that carry no data.
    } else {
      return FailedPrecondition("the runtime requires signed extension " + id +
                                ", which carries data this client does not know how to fill in");
    }
  }
  return Status::Ok();
}

// call ++ explicit ++ implicit, hashed when over 256 bytes.
Bytes payload_of(std::span<const std::uint8_t> call, const Encoder& explicit_part, const Encoder& implicit_part) {
  Encoder payload;
  payload.raw(call).raw(explicit_part.data()).raw(implicit_part.data());
  if (payload.data().size() > 256) return blake2(payload.data(), 256);
  return payload.take();
}

}  // namespace

Era Era::Mortal(std::uint64_t period, std::uint64_t current_block) {
  std::uint64_t p = std::bit_ceil(std::max<std::uint64_t>(period, 4));
  p = std::min<std::uint64_t>(p, 65536);
  Era e;
  e.immortal = false;
  e.period = p;
  std::uint64_t quantize = std::max<std::uint64_t>(p >> 12, 1);
  e.phase = (current_block % p) / quantize * quantize;
  return e;
}

Bytes Era::encode() const {
  if (immortal) return {0};
  std::uint64_t quantize = std::max<std::uint64_t>(period >> 12, 1);
  int tz = std::countr_zero(period);
  std::uint16_t low = static_cast<std::uint16_t>(std::clamp(tz - 1, 1, 15));
  std::uint16_t encoded = static_cast<std::uint16_t>(low | ((phase / quantize) << 4));
  return {static_cast<std::uint8_t>(encoded & 0xff), static_cast<std::uint8_t>(encoded >> 8)};
}

std::uint64_t Era::birth(std::uint64_t current_block) const {
  if (immortal) return 0;
  return (std::max(current_block, phase) - phase) / period * period + phase;
}

Result<Bytes> encode_call(const Metadata& md, std::string_view pallet, std::string_view call, const json& args) {
  TESSERA_ASSIGN_OR_RETURN(auto p, md.pallet(pallet));
  TESSERA_ASSIGN_OR_RETURN(auto v, md.call(pallet, call));
  Encoder out;
  out.u8(p->index).u8(v->index);
  const std::string where = p->name + "." + std::string(call);
  if (args.is_array()) {
    if (args.size() != v->fields.size())
      return InvalidArgument(where + " takes " + std::to_string(v->fields.size()) + " arguments, got " + std::to_string(args.size()));
    for (std::size_t i = 0; i < v->fields.size(); ++i)
      TESSERA_RETURN_IF_ERROR(encode_value(md, v->fields[i].type, args[i], out).with_context(where + " argument " + v->fields[i].name));
    return out.take();
  }
  if (!args.is_object() && !(args.is_null() && v->fields.empty()))
    return InvalidArgument(where + ": arguments must be an object or an array");
  std::size_t used = 0;
  for (const auto& f : v->fields) {
    if (!args.is_object() || !args.contains(f.name)) return InvalidArgument(where + " needs argument '" + f.name + "' (" + f.type_name + ")");
    ++used;
    TESSERA_RETURN_IF_ERROR(encode_value(md, f.type, args.at(f.name), out).with_context(where + " argument " + f.name));
  }
  if (args.is_object() && used != args.size()) {
    for (auto it = args.begin(); it != args.end(); ++it) {
      bool known = false;
      for (const auto& f : v->fields) known = known || f.name == it.key();
      if (!known) return InvalidArgument(where + " has no argument '" + it.key() + "'");
    }
  }
  return out.take();
}

Result<Bytes> signing_payload(const Metadata& md, std::span<const std::uint8_t> call, const ChainIdentity& chain,
                              const SignOptions& options) {
  Encoder explicit_part, implicit_part;
  TESSERA_RETURN_IF_ERROR(encode_extensions(md, chain, options, explicit_part, implicit_part));
  return payload_of(call, explicit_part, implicit_part);
}

Result<Bytes> sign_extrinsic(const Metadata& md, std::span<const std::uint8_t> call, const Keypair& signer,
                             const ChainIdentity& chain, const SignOptions& options) {
  if (std::find(md.extrinsic_versions.begin(), md.extrinsic_versions.end(), 4) == md.extrinsic_versions.end())
    return FailedPrecondition("the runtime does not accept version-4 extrinsics");
  if (!md.address_type || !md.signature_type) return FailedPrecondition("the metadata names no address or signature type");
  Encoder explicit_part, implicit_part;
  TESSERA_RETURN_IF_ERROR(encode_extensions(md, chain, options, explicit_part, implicit_part));
  const Bytes payload = payload_of(call, explicit_part, implicit_part);
  Signature sig = signer.sign(std::span<const std::uint8_t>(payload));
  Encoder body;
  body.u8(0x84);  // signed, version 4
  // The address and signature variants are found by name: MultiAddress::Id, MultiSignature::Ed25519.
  TESSERA_RETURN_IF_ERROR(encode_value(md, *md.address_type, json{{"Id", hex_of(signer.public_key())}}, body)
                              .with_context("encoding the signer's address"));
  TESSERA_RETURN_IF_ERROR(encode_value(md, *md.signature_type, json{{"Ed25519", hex_of(sig)}}, body)
                              .with_context("encoding the ed25519 signature"));
  body.raw(explicit_part.data()).raw(call);
  Encoder out;
  out.bytes(body.data());
  return out.take();
}

Bytes extrinsic_hash(std::span<const std::uint8_t> extrinsic) { return blake2(extrinsic, 256); }

}  // namespace tessera::substrate
