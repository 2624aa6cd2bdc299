/*
 * lwIP for wasm-scale on the Pico W: NO_SYS with the CYW43's threadsafe background mode, TCP for
 * MQTT over TLS (altcp + mbedTLS), DNS, DHCP and SNTP.
 */
#pragma once

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define MEM_LIBC_MALLOC 0
#define MEM_ALIGNMENT 4
/* TLS records are up to 16 KiB in: the heap holds mbedTLS's buffers apart (malloc), lwIP's own
 * pool holds packets and the MQTT client's state. */
#define MEM_SIZE 8000
#define MEMP_NUM_TCP_SEG 32
#define MEMP_NUM_ARP_QUEUE 10
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 4)
#define PBUF_POOL_SIZE 24
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 1
#define TCP_WND (8 * TCP_MSS)
#define TCP_MSS 1460
#define TCP_SND_BUF (8 * TCP_MSS)
#define TCP_SND_QUEUELEN ((4 * (TCP_SND_BUF) + (TCP_MSS - 1)) / (TCP_MSS))
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_NETIF_HOSTNAME 1
#define LWIP_NETIF_TX_SINGLE_PBUF 1
#define DHCP_DOES_ARP_CHECK 0
#define LWIP_DHCP_DOES_ACD_CHECK 0
#define LWIP_DHCP 1
#define LWIP_IPV4 1
#define LWIP_TCP 1
#define LWIP_UDP 1
#define LWIP_DNS 1
#define LWIP_TCP_KEEPALIVE 1
#define LWIP_CHKSUM_ALGORITHM 3
#define LWIP_STATS 0
#define LWIP_STATS_DISPLAY 0

/* TLS through altcp (lwIP's application TCP layer) with mbedTLS. */
#define LWIP_ALTCP 1
#define LWIP_ALTCP_TLS 1
#define LWIP_ALTCP_TLS_MBEDTLS 1
#define ALTCP_MBEDTLS_AUTHMODE MBEDTLS_SSL_VERIFY_REQUIRED

/* MQTT: room for the largest message the core frames (its io buffer is 1 KiB) in both directions. */
#define MQTT_OUTPUT_RINGBUF_SIZE 2048
#define MQTT_VAR_HEADER_BUFFER_LEN 1152
#define MQTT_REQ_MAX_IN_FLIGHT 8
#define MQTT_CONNECT_TIMOUT 20

/* SNTP sets the clock (before TLS: certificates have dates). */
#define SNTP_SERVER_DNS 1
#define SNTP_STARTUP_DELAY 0
void scale_clock_set(unsigned int sec, unsigned int us);
#define SNTP_SET_SYSTEM_TIME_US(sec, us) scale_clock_set((sec), (us))
/* Once an hour after the first answer. */
#define SNTP_UPDATE_DELAY 3600000
