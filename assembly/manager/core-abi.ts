// Generated from assembly/abi.json by host/gen-abi.ts (npm run abi). Do not edit.

/** The core's imports as module.name, comma-separated. */
export const CORE_IMPORTS = "gpio.wait_low,gpio.clock_in,gpio.write,calib.gain,calib.curve,calib.knot,calib.fault,calib.fit,sys.panic";
/** The core's exports (memory first), comma-separated. */
export const CORE_EXPORTS = "memory,scale_init,io_ptr,io_cap,reading_ptr,hx_add_chip,hx_power,scale_sample,config_set,config_get,cmd_tare,cmd_clear_tare,cmd_zero,cmd_trim_empty,cmd_trim_corner,cmd_trim_clear,cal_span,cal_add_point,cal_clear_points,cal_fit,cal_residual,cal_module,button,env_temperature,blob_save,blob_load,mqtt_setup,mqtt_topic,mqtt_will,mqtt_connected,mqtt_message,out_next,out_done,out_pending,out_dropped,time_sync,state_dirty,state_save,state_load,wake_begin,wake_step,wake_sleep_ms";
export const CORE_EXPORT_COUNT: i32 = 42;
