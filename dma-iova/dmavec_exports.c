// SPDX-License-Identifier: GPL-2.0
/*
 * Exports the Rust symbols of the dmavec crate that dependent Rust modules
 * (dmavec_bar, importers) reference: the list is generated from their
 * undefined symbols at build time (see Kbuild), as drivers/gpu/Makefile does
 * for nova-core. A workaround until kbuild supports Rust cross-module
 * dependencies natively.
 */
#include <linux/export.h>

/* In the namespace of the C API: users import "DMAVEC" either way. */
#define EXPORT_SYMBOL_RUST_GPL(sym) extern int sym; EXPORT_SYMBOL_NS_GPL(sym, "DMAVEC")

#include "dmavec_exports_generated.h"
