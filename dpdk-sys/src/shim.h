/* Out-of-line wrappers for the DPDK `static inline` functions that Rust cannot call directly.
 * Each is called once per burst (or per copy), never per byte; per-packet field reads
 * (data pointer, lengths) are done in Rust on the bindgen struct layout instead. */
#ifndef TRAFFIC_MIRROR_SHIM_H
#define TRAFFIC_MIRROR_SHIM_H

#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_telemetry.h>
#include <rte_version.h>

uint16_t shim_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts,
                               uint16_t nb_pkts);
uint16_t shim_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts,
                               uint16_t nb_pkts);
struct rte_mbuf *shim_rte_pktmbuf_alloc(struct rte_mempool *mp);
int shim_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count);
void shim_rte_pktmbuf_attach(struct rte_mbuf *mi, struct rte_mbuf *m);
void shim_rte_pktmbuf_free(struct rte_mbuf *m);
int shim_rte_errno(void);
const char *shim_rte_version(void);

#endif
