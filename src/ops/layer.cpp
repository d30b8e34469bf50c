// placeholder so the layer library is never empty; removed when the layer has real files
