/* The link on QEMU's OpenCores Ethernet MAC (CONFIG_ETH_USE_OPENETH) with its DP83848 PHY, behind
 * the link calls of scale_net.h. QEMU's user network hands out 10.0.2.15 by DHCP and reaches the
 * host as 10.0.2.2. The SSID and password mean nothing here; the link comes back by itself when the
 * emulated cable does. */
#include "scale_net.h"

#include <string.h>
#include "esp_check.h"
#include "esp_eth.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "freertos/event_groups.h"

static const char *TAG = "link";
#define GOT_IP_BIT BIT0

static EventGroupHandle_t s_events;
static esp_eth_handle_t s_eth;

static void on_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    if (base == ETH_EVENT && id == ETHERNET_EVENT_DISCONNECTED) {
        xEventGroupClearBits(s_events, GOT_IP_BIT);
        ESP_LOGW(TAG, "Ethernet link down");
    } else if (base == IP_EVENT && id == IP_EVENT_ETH_GOT_IP) {
        const ip_event_got_ip_t *got = data;
        ESP_LOGI(TAG, "got IP " IPSTR " on QEMU's Ethernet", IP2STR(&got->ip_info.ip));
        xEventGroupSetBits(s_events, GOT_IP_BIT);
    }
}

esp_err_t scale_wifi_start(const char *ssid, const char *password, uint32_t backoff_max_ms)
{
    return scale_wifi_start_hinted(ssid, password, backoff_max_ms, NULL);
}

esp_err_t scale_wifi_start_hinted(const char *ssid, const char *password, uint32_t backoff_max_ms, const scale_wifi_ap_t *hint)
{
    (void)ssid;
    (void)password;
    (void)backoff_max_ms;
    (void)hint;
    if (s_events == NULL && (s_events = xEventGroupCreate()) == NULL) return ESP_ERR_NO_MEM;
    ESP_RETURN_ON_ERROR(esp_netif_init(), TAG, "netif");
    esp_err_t err = esp_event_loop_create_default();
    if (err != ESP_OK && err != ESP_ERR_INVALID_STATE) return err;
    esp_netif_config_t netif_config = ESP_NETIF_DEFAULT_ETH();
    esp_netif_t *netif = esp_netif_new(&netif_config);
    if (netif == NULL) return ESP_ERR_NO_MEM;
    eth_mac_config_t mac_config = ETH_MAC_DEFAULT_CONFIG();
    eth_phy_config_t phy_config = ETH_PHY_DEFAULT_CONFIG();
    phy_config.autonego_timeout_ms = 100; /* QEMU's PHY has nothing to negotiate */
    esp_eth_mac_t *mac = esp_eth_mac_new_openeth(&mac_config);
    esp_eth_phy_t *phy = esp_eth_phy_new_dp83848(&phy_config);
    if (mac == NULL || phy == NULL) return ESP_ERR_NO_MEM;
    esp_eth_config_t config = ETH_DEFAULT_CONFIG(mac, phy);
    ESP_RETURN_ON_ERROR(esp_eth_driver_install(&config, &s_eth), TAG, "driver");
    ESP_RETURN_ON_ERROR(esp_netif_attach(netif, esp_eth_new_netif_glue(s_eth)), TAG, "attach");
    ESP_RETURN_ON_ERROR(esp_event_handler_instance_register(ETH_EVENT, ESP_EVENT_ANY_ID, on_event, NULL, NULL), TAG, "eth events");
    ESP_RETURN_ON_ERROR(esp_event_handler_instance_register(IP_EVENT, IP_EVENT_ETH_GOT_IP, on_event, NULL, NULL), TAG, "ip events");
    return esp_eth_start(s_eth);
}

/* The emulator's Ethernet has no network to choose: started once, whatever is asked. */
esp_err_t scale_wifi_use(const char *ssid, const char *password, uint32_t backoff_max_ms)
{
    return s_eth == NULL ? scale_wifi_start(ssid, password, backoff_max_ms) : ESP_OK;
}

bool scale_wifi_wait(uint32_t timeout_ms)
{
    EventBits_t bits = xEventGroupWaitBits(s_events, GOT_IP_BIT, pdFALSE, pdFALSE, pdMS_TO_TICKS(timeout_ms));
    return (bits & GOT_IP_BIT) != 0;
}

bool scale_wifi_ap(scale_wifi_ap_t *out)
{
    (void)out;
    return false; /* no access point to remember */
}

void scale_wifi_stop(void)
{
    if (s_eth) esp_eth_stop(s_eth);
}
