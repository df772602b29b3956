# The quickstart network: two banks and one store on one switch.
#
#   plugins.hcl    the plugin binaries (this file)
#   alpha.hcl      Alpha Bank: issuer and acquirer, payers authenticate with OCRA
#   beta.hcl       Beta Bank:  issuer and acquirer, payers authenticate with passkeys
#   tea_shop.hcl   the Tea Shop, a store that banks with Alpha Bank
#
# switchd reads every *.hcl file in this folder, in name order; blocks may be
# spread over files in any way.
#
# A relative path is resolved against --plugin-dir (bin/plugins, where
# `make plugins` builds them). No sha256 here: `switchd plugins lock` pins
# every binary's digest in <data-dir>/plugins.lock.hcl, and switchd refuses
# to start a binary whose digest differs. In production, write the sha256
# into each block instead, so the configuration itself pins the binaries.

plugin "merchantsig" { path = "merchantsig" }   # step B: the seller's signature
plugin "ocra" { path = "ocra" }                 # step C: RFC 6287 OCRA mutual challenge-response
plugin "passkey" { path = "passkey" }           # step C: WebAuthn passkeys
plugin "card" { path = "card" }                 # step D: card debit and credit
plugin "banktransfer" { path = "banktransfer" } # step D: bank-transfer debit and credit
